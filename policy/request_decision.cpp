#include "policy/request_decision.hpp"

#include "config/syntax.hpp"
#include "policy/authority.hpp"
#include "policy/egress.hpp"

namespace trproxy::policy {
namespace {

constexpr std::uint16_t http_port = 80;
constexpr std::uint16_t https_port = 443;

bool is_pac_path(std::string_view target) {
  const auto path = target.substr(0, target.find_first_of("?#"));
  return path == "/proxy.pac" || path == "/wpad.dat";
}

PlainPlan plan_absolute(const Policy& policy, const RequestHead& head, std::string_view bytes,
                        const ProfileRules& profile) {
  if (head.https_scheme) {
    return Refusal{400, Action::deny, "https:// targets must be requested with CONNECT"};
  }
  const auto authority = head.target_authority(bytes);
  const auto [host_class, app] = policy.match(authority.host, profile);
  if (auto refusal = refuse_host_class(host_class)) return std::move(*refusal);
  if (auto refused = check_egress_port(policy.config().egress, EgressKind::forward, authority.port)) {
    return std::move(refused->refusal);
  }
  const bool sign_in = is_intercepted(host_class);
  if (sign_in && !host_header_names(head.host.in(bytes), authority.host, http_port, authority.port)) {
    return Refusal{421, Action::forward,
                   host_class == HostClass::app ? "Host header does not name the requested app host"
                                                : "Host header does not name the requested sign-in host"};
  }
  // A report profile leaves the tenant-restriction fields alone; the proxy fields and the
  // origin-form target are the forward's own business.
  return ForwardPlan{config::normalize_host(authority.host),
                     authority.port,
                     host_class,
                     app,
                     Action::forward,
                     RewriteEdits{sign_in && !profile.reports(), true, true,
                                  sign_in ? profile.inserted_block(host_class, app) : std::string_view{}},
                     sign_in ? &profile : nullptr};
}

}  // namespace

PlainPlan plan_plain_request(const Policy& policy, const RequestHead& head, std::string_view bytes) {
  return plan_plain_request(policy, head, bytes, policy.default_profile());
}

PlainPlan plan_plain_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                             const ProfileRules& profile) {
  switch (head.form) {
    case TargetForm::absolute: return plan_absolute(policy, head, bytes, profile);
    case TargetForm::authority: {
      auto plan = plan_connect(policy, head, bytes, profile);
      if (auto* refusal = std::get_if<Refusal>(&plan)) return std::move(*refusal);
      return std::get<ConnectTarget>(std::move(plan));
    }
    case TargetForm::origin: {
      const auto method = head.method.in(bytes);
      if ((method == "GET" || method == "HEAD") && is_pac_path(head.target.in(bytes))) return PacPlan{};
      return Refusal{400, Action::deny, "this is a proxy: send CONNECT or an absolute-form request"};
    }
    case TargetForm::asterisk: break;
  }
  return Refusal{400, Action::deny, "OPTIONS * is not proxied"};
}

bool still_intercepted(const Policy& policy, const InterceptedChannel& channel, const ProfileRules& profile) {
  return policy.match(channel.host, profile) == HostMatch{channel.host_class, channel.app};
}

bool still_intercepted(const Policy& policy, const InterceptedChannel& channel) {
  return still_intercepted(policy, channel, policy.default_profile());
}

InterceptedPlan plan_intercepted_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                                         const InterceptedChannel& channel) {
  return plan_intercepted_request(policy, head, bytes, channel, policy.default_profile());
}

InterceptedPlan plan_intercepted_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                                         const InterceptedChannel& channel, const ProfileRules& profile) {
  if (head.form == TargetForm::authority || head.form == TargetForm::asterisk) {
    return Refusal{405, Action::intercept, "method not allowed inside an intercepted connection"};
  }
  const bool target_names_host = head.form == TargetForm::origin ||
                                 (head.https_scheme && same_host(head.target_authority(bytes).host, channel.host));
  if (!target_names_host || !host_header_names(head.host.in(bytes), channel.host, https_port, channel.port)) {
    return Refusal{421, Action::intercept, "this connection only serves " + std::string(channel.host)};
  }
  if (!still_intercepted(policy, channel, profile)) {
    return Refusal{0, Action::intercept, "the host is no longer intercepted after a reload"};
  }
  return ForwardPlan{
      std::string(channel.host),
      channel.port,
      channel.host_class,
      channel.app,
      Action::intercept,
      RewriteEdits{!profile.reports(), false, false, profile.inserted_block(channel.host_class, channel.app)},
      &profile};
}

bool relays_protocol_switch(HostClass host_class, const RequestHead& head) {
  return host_class == HostClass::app && head.upgrade && head.framing == BodyFraming::none;
}

Refusal broken_head_refusal(std::optional<HeadError> error, Action action) {
  if (!error) return Refusal{408, action, "request head not received in time"};
  return Refusal{http_status(*error), action, std::string(describe(*error))};
}

}  // namespace trproxy::policy
