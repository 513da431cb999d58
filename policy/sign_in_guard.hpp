#pragma once
// The sign-in address guard (DESIGN.md, "Sign-in address guard"): a tunnel to the addresses
// that serve Microsoft's sign-in hosts is only allowed when its SNI names an excluded host or a
// `sign_in_guard.tunnel_names` entry; otherwise a client could sign in untagged through an IP
// literal, a name it controls, or a fronted SNI. Pure: asked with the address the proxy
// connected to and what the ClientHello said.

#include "config/cidr.hpp"
#include "policy/connect_decision.hpp"
#include "policy/policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace trproxy::policy {

enum class GuardOutcome : std::uint8_t {
  not_guarded,  // the address is not the sign-in service's
  refused,      // closed: nothing named a host allowed to tunnel there
  logged,       // the same, with `action: log`: tunnelled, but logged and counted
  tunnelled,    // an allowed name (an exclusion or tunnel_names)
  intercepted,  // a sign-in SNI: intercepted as usual
  count
};
const char* to_string(GuardOutcome outcome);

struct GuardDecision {
  GuardOutcome outcome = GuardOutcome::not_guarded;
  std::string reason;  // set for refused and logged
};

bool is_sign_in_address(const Policy& policy, const config::IpAddress& address);

// For a connection that decide_after_hello would tunnel or intercept, to `address`.
GuardDecision check_sign_in_guard(const Policy& policy, const config::IpAddress& address, const HelloFacts& hello);

// Where a tunnel goes, as far as the proxy can know. Direct, the one address it connected to.
// Behind upstream.proxy the parent resolves the name and may pick any of its addresses, so the
// proxy's own lookup of the name stands in: the guard applies when any answer is guarded, and
// a failed lookup (`unknown`) counts as guarded, so it fails closed.
struct GuardDestination {
  std::vector<config::IpAddress> addresses;
  bool unknown = false;
};
GuardDecision check_sign_in_guard(const Policy& policy, const GuardDestination& destination, const HelloFacts& hello);

}  // namespace trproxy::policy
