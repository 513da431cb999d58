#include "policy/sign_in_guard.hpp"

#include "config/syntax.hpp"

#include <algorithm>

namespace trproxy::policy {

const char* to_string(GuardOutcome outcome) {
  switch (outcome) {
    case GuardOutcome::not_guarded: return "not_guarded";
    case GuardOutcome::refused: return "refused";
    case GuardOutcome::logged: return "logged";
    case GuardOutcome::tunnelled: return "tunnelled";
    case GuardOutcome::intercepted: return "intercepted";
    case GuardOutcome::count: break;
  }
  return "unknown";
}

bool is_sign_in_address(const Policy& policy, const config::IpAddress& address) {
  const auto& ranges = policy.config().sign_in_guard.addresses;
  return std::any_of(ranges.begin(), ranges.end(), [&](const config::Cidr& cidr) { return cidr.contains(address); });
}

namespace {

// The decision for a destination the guard covers (or may cover: `unresolved`).
GuardDecision guard_covered(const Policy& policy, const HelloFacts& hello, bool unresolved) {
  const auto& guard = policy.config().sign_in_guard;
  if (hello.kind == HelloKind::sni) {
    const auto sni_class = policy.hosts().classify(hello.sni);
    // Only a sign-in name is intercepted whoever asks; an app name reaches the guard only when
    // the client's profile does not name the app, and then it is a name like any other.
    if (sni_class == HostClass::auth || sni_class == HostClass::msa) return {GuardOutcome::intercepted, {}};
    if (sni_class == HostClass::excluded || config::host_matches_any(hello.sni, guard.tunnel_names)) {
      return {GuardOutcome::tunnelled, {}};
    }
  }
  std::string reason = unresolved ? "a name the proxy could not resolve (it may lead to the sign-in service) reached "
                                  : "sign-in service address reached ";
  switch (hello.kind) {
    case HelloKind::sni: reason += "with a server name not allowed there"; break;
    case HelloKind::no_sni: reason += "without a server name"; break;
    case HelloKind::malformed:
    case HelloKind::incomplete: reason += "with a ClientHello the proxy cannot read"; break;
    default: reason += "without TLS"; break;
  }
  reason += " (sign_in_guard)";
  return {guard.action == config::GuardAction::refuse ? GuardOutcome::refused : GuardOutcome::logged,
          std::move(reason)};
}

}  // namespace

GuardDecision check_sign_in_guard(const Policy& policy, const config::IpAddress& address, const HelloFacts& hello) {
  if (!is_sign_in_address(policy, address)) return {};
  return guard_covered(policy, hello, false);
}

GuardDecision check_sign_in_guard(const Policy& policy, const GuardDestination& destination, const HelloFacts& hello) {
  if (policy.config().sign_in_guard.addresses.empty()) return {};  // the guard is off
  if (destination.unknown) return guard_covered(policy, hello, true);
  for (const auto& address : destination.addresses) {
    if (is_sign_in_address(policy, address)) return guard_covered(policy, hello, false);
  }
  return {};
}

}  // namespace trproxy::policy
