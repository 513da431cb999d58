#include "policy/connect_decision.hpp"

#include "config/syntax.hpp"
#include "policy/authority.hpp"
#include "policy/egress.hpp"

namespace trproxy::policy {
namespace {

Refusal close_connection(Action action, std::string reason) {
  return Refusal{0, action, std::move(reason)};
}

}  // namespace

std::optional<Refusal> refuse_host_class(HostClass host_class) {
  if (host_class == HostClass::invalid) return Refusal{400, Action::deny, "host is not a plain ASCII host name"};
  if (host_class == HostClass::blocked) return Refusal{403, Action::block, "destination blocked by policy"};
  return std::nullopt;
}

ConnectPlan plan_connect(const Policy& policy, const RequestHead& head, std::string_view bytes) {
  return plan_connect(policy, head, bytes, policy.default_profile());
}

ConnectPlan plan_connect(const Policy& policy, const RequestHead& head, std::string_view bytes,
                         const ProfileRules& profile) {
  const auto authority = head.target_authority(bytes);
  const auto [host_class, app] = policy.match(authority.host, profile);
  if (auto refusal = refuse_host_class(host_class)) return std::move(*refusal);
  if (head.framing != BodyFraming::none) {
    return Refusal{400, Action::deny, "CONNECT with a body"};
  }
  if (auto refused = check_egress_port(policy.config().egress, EgressKind::connect, authority.port)) {
    return std::move(refused->refusal);
  }
  return ConnectTarget{config::normalize_host(authority.host), authority.port, host_class, app};
}

HelloPlan decide_after_hello(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello) {
  return decide_after_hello(policy, target, hello, policy.default_profile());
}

HelloPlan decide_after_hello(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello,
                             const ProfileRules& profile) {
  const auto sni = hello.kind == HelloKind::sni ? policy.match(hello.sni, profile) : HostMatch{};
  const auto sni_class = sni.host_class;
  const bool connect_sign_in = is_intercepted(target.host_class);
  const bool sni_sign_in = is_intercepted(sni_class);

  if (connect_sign_in || sni_sign_in) {
    // Fail closed: a sign-in host is intercepted or nothing happens at all.
    if (hello.kind != HelloKind::sni && hello.kind != HelloKind::no_sni) {
      return close_connection(Action::intercept, "client did not start TLS to a sign-in host (fail closed)");
    }
    if (connect_sign_in && sni_sign_in && !same_host(target.host, hello.sni)) {
      return close_connection(Action::intercept, "CONNECT and SNI name two different sign-in hosts");
    }
    if (sni_sign_in) {
      return InterceptPlan{config::normalize_host(hello.sni), sni_class,
                           connect_sign_in ? target.port : std::uint16_t{443}, sni.app};
    }
    return InterceptPlan{target.host, target.host_class, target.port, target.app};
  }
  if (sni_class == HostClass::blocked) {
    return close_connection(Action::block, "server name blocked by policy");
  }
  if (sni_class == HostClass::invalid) {
    return close_connection(Action::deny, "server name is not a plain ASCII host name");
  }
  if (hello.kind == HelloKind::malformed) {
    // Where a TLS client goes cannot be known: fail closed rather than tunnel it.
    return close_connection(Action::tunnel, "ClientHello cannot be parsed or is too large (fail closed)");
  }
  if (hello.kind == HelloKind::incomplete) {
    // Neither silent nor readable: the rest of the hello (its SNI) could name a sign-in host.
    return close_connection(Action::tunnel, "ClientHello not whole within the wait (fail closed)");
  }
  return TunnelPlan{};
}

}  // namespace trproxy::policy
