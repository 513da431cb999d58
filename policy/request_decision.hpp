#pragma once
// What one request becomes (DESIGN.md, "What it does to traffic", "One host per intercepted
// connection", "Policy applies per request"): forwarded with which edits, refused with which
// status and reason, a PAC file, or a CONNECT. Pure: asked once per request head with the
// policy current when the head was read.

#include "policy/action.hpp"
#include "policy/connect_decision.hpp"
#include "policy/http_head.hpp"
#include "policy/policy.hpp"
#include "policy/rewrite.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace trproxy::policy {

struct ForwardPlan {
  std::string host;  // normalised upstream host
  std::uint16_t port = 0;
  HostClass host_class = HostClass::other;
  AppId app = no_app;
  Action action = Action::forward;
  RewriteEdits edits;  // `inserted` points into the policy's rendered header blocks
  // The client's profile, for a request to a sign-in host (else null); points into the Policy.
  const ProfileRules* profile = nullptr;
};

struct PacPlan {};

// On the proxy listener's own (plain) connection any request form may come, in any order on
// one kept-alive connection: absolute-form is forwarded, authority-form is a CONNECT, origin-form
// GET/HEAD of /proxy.pac or /wpad.dat is the PAC file.
using PlainPlan = std::variant<Refusal, ForwardPlan, ConnectTarget, PacPlan>;
// `profile` is the client's (Policy::profile_for); without it, the default profile.
// A request to an app host carries the profile's lines for the app (a ForwardPlan's `profile`).
PlainPlan plan_plain_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                             const ProfileRules& profile);
PlainPlan plan_plain_request(const Policy& policy, const RequestHead& head, std::string_view bytes);

// The sign-in or app host an intercepted connection was opened for.
struct InterceptedChannel {
  std::string_view host;
  HostClass host_class = HostClass::auth;
  std::uint16_t port = 443;
  AppId app = no_app;
};

// Inside an intercepted connection: the request must name the connection's host; a reload that
// stops intercepting the host closes the connection (Refusal with status 0).
using InterceptedPlan = std::variant<Refusal, ForwardPlan>;
// A report profile forwards the head unchanged: nothing stripped, nothing inserted.
InterceptedPlan plan_intercepted_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                                         const InterceptedChannel& channel, const ProfileRules& profile);
InterceptedPlan plan_intercepted_request(const Policy& policy, const RequestHead& head, std::string_view bytes,
                                         const InterceptedChannel& channel);

// The answer to a head that never became a request: one that broke the grammar or a limit
// (`error`: 400 or 431 with the scanner's reason), or none at all in time (nullopt: 408).
Refusal broken_head_refusal(std::optional<HeadError> error, Action action);

// Whether the upstream's 101 to this intercepted request is relayed (the connection then carries
// bytes both ways until either side closes) or refused with 502: relayed for an Upgrade request
// without a body to an app host (Slack and ChatGPT run on WebSocket), refused anywhere else.
bool relays_protocol_switch(HostClass host_class, const RequestHead& head);

// Whether an intercepted connection of a client of `profile` may stay open under `policy` (after
// a reload): the host is intercepted as it was, the same app.
bool still_intercepted(const Policy& policy, const InterceptedChannel& channel, const ProfileRules& profile);
bool still_intercepted(const Policy& policy, const InterceptedChannel& channel);

}  // namespace trproxy::policy
