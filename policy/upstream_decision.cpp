#include "policy/upstream_decision.hpp"

namespace trproxy::policy {

UpstreamRoute upstream_route(const config::Config& config, std::string_view host, std::uint16_t port) {
  const auto& overrides = config.upstream.resolve;
  if (const auto it = overrides.find(std::string(host)); it != overrides.end()) {
    return {it->second.host, it->second.port, config::parse_ip(it->second.host), true};
  }
  return {std::string(host), port, config::parse_ip(host), false};
}

Refusal dial_refusal(Refusal failure, DialPurpose purpose) {
  switch (purpose) {
    case DialPurpose::intercept: failure.action = Action::intercept; break;
    case DialPurpose::tunnel: failure.action = failure.status == 403 ? Action::deny : Action::tunnel; break;
    case DialPurpose::forward: failure.action = failure.status == 403 ? Action::deny : Action::forward; break;
  }
  return failure;
}

bool replayable_request(std::string_view method, BodyFraming framing) {
  if (framing != BodyFraming::none) return false;
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

UpstreamFate upstream_fate(const ExchangeEnd& end) {
  if (!end.upstream_reusable) return UpstreamFate::close;
  // NTLM/Negotiate authenticate the connection: challenged by the server, or sent by the client
  // (a Negotiate token may be accepted with a plain 200). Such a connection never serves another.
  if (end.pinned || end.challenged || end.sent_credentials) return UpstreamFate::keep;
  return UpstreamFate::pool;
}

}  // namespace trproxy::policy
