#pragma once
// A transparent flow (DESIGN.md, "Transparent mode"): a TCP connection the packet filter sent to
// a transparent listener, handled as if the client had sent `CONNECT <original destination>`
// and then its first bytes. Only the entry is decided here; everything after it is the CONNECT
// path's own decisions (decide_after_hello, the guard, egress), asked with the target this
// returns. Pure; tests/unit/transparent_test.cpp has the tables.

#include "config/cidr.hpp"
#include "policy/connect_decision.hpp"
#include "policy/egress.hpp"
#include "policy/policy.hpp"

#include <cstdint>
#include <optional>

namespace trproxy::policy {

// The packet's original destination.
struct OriginalDestination {
  config::IpAddress address;
  std::uint16_t port = 0;
};

// Why a flow must be closed before anything is connected to (a loop, or nothing to go to).
enum class TransparentLoop : std::uint8_t {
  none,
  unreadable,      // no original destination (a client that connected to the listener itself)
  own_listener,    // the destination is one of the proxy's own listeners
  local_address,   // the destination is an address of this machine
  own_connection,  // the flow is one of the proxy's own upstream connections, sent back to it
};
const char* to_string(TransparentLoop loop);

// The loop rules for a destination (nullopt: none could be read). `self` holds the proxy's
// listeners and the kernel's "is this address mine".
TransparentLoop check_transparent_destination(const std::optional<OriginalDestination>& destination,
                                              const SelfEndpoints& self);

// The flow as a CONNECT target: the destination as its host (an address literal), refused as a
// CONNECT to it would be (egress.connect_ports). The SNI then decides as for any CONNECT.
ConnectPlan plan_transparent(const Policy& policy, const OriginalDestination& destination);

// What `trproxy_transparent_connections_total{action}` counts a flow as, from its access line.
enum class TransparentAction : std::uint8_t { intercept, tunnel, block, deny, close, count };
const char* to_string(TransparentAction action);
// Block and deny as logged; a line with a reason, no status and nothing sent to the client (a
// fail-closed ClientHello, a dial that failed) is a close; else intercept or tunnel.
TransparentAction transparent_action(Action action, int status, bool has_reason, std::uint64_t bytes_out);

}  // namespace trproxy::policy
