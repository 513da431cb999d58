#include "policy/tunnel_decision.hpp"

namespace trproxy::policy {

TunnelDecision decide_tunnel(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello,
                             const GuardDestination* destination, const ProfileRules& profile) {
  TunnelDecision out{decide_after_hello(policy, target, hello, profile), {}};
  if (destination == nullptr) return out;
  out.guard = check_sign_in_guard(policy, *destination, hello);
  if (out.guard.outcome == GuardOutcome::refused) out.plan = Refusal{0, Action::deny, out.guard.reason};
  return out;
}

std::chrono::milliseconds peek_time(HostClass host_class, std::chrono::milliseconds head_timeout) {
  return is_intercepted(host_class) ? head_timeout : std::chrono::milliseconds(ordinary_peek_ms);
}

Action closed_before_hello(HostClass host_class) {
  return is_intercepted(host_class) ? Action::intercept : Action::tunnel;
}

bool tunnel_still_allowed(const Policy& policy, std::string_view connect_host, std::string_view sni,
                          const ProfileRules& profile) {
  for (const auto host : {connect_host, sni}) {
    if (host.empty()) continue;
    const auto host_class = policy.match(host, profile).host_class;
    if (host_class == HostClass::blocked || is_intercepted(host_class)) return false;
  }
  return true;
}

}  // namespace trproxy::policy
