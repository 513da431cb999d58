#pragma once
// Where the proxy may connect on a client's behalf (DESIGN.md, "Egress rules"): allowed ports
// for CONNECT and plain forwards, a deny list of address ranges, and never the proxy's own
// listeners. Pure: the caller supplies the resolved address and what "self" is.

#include "config/config.hpp"
#include "policy/action.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace trproxy::policy {

const char* to_string(EgressRule rule);

enum class EgressKind : std::uint8_t { connect, forward };

// The proxy's own sockets: listener ports, the addresses they are bound to, and whether an
// address is this machine's now (a listener on 0.0.0.0 answers on all of them). The last is
// asked, not listed: addresses come and go while the proxy runs (DHCP, a VIP moved to this node),
// and the engine asks the kernel at the moment of the dial. Unset: no address is local.
struct SelfEndpoints {
  std::vector<std::pair<config::IpAddress, std::uint16_t>> bound;  // exact bind address and port
  std::vector<std::uint16_t> wildcard_ports;                       // ports bound to 0.0.0.0 / ::
  std::function<bool(const config::IpAddress&)> is_local_address;
};

struct EgressRefusal {
  EgressRule rule;
  Refusal refusal;
};

// The port rule alone: decidable from the request before anything is resolved.
std::optional<EgressRefusal> check_egress_port(const config::EgressRules& rules, EgressKind kind, std::uint16_t port);

// The address rules for one resolved address. `operator_chosen` marks an address that came
// from `upstream.resolve` (or the parent proxy): exempt from the deny list, never from self.
std::optional<EgressRefusal> check_egress_address(const config::EgressRules& rules, const SelfEndpoints& self,
                                                  const config::IpAddress& address, std::uint16_t port,
                                                  bool operator_chosen);

}  // namespace trproxy::policy
