#pragma once
// What a CONNECT becomes (DESIGN.md, "What it does to traffic", "Fail closed", "The
// ClientHello is read whole"). Two pure steps around the I/O the session does:
//   plan_connect:       the CONNECT head          -> refuse, or a target to answer 200 for
//   decide_after_hello: target x first client bytes -> intercept, tunnel, or close
// The address rules (egress, sign-in address guard) are applied by the dialer with
// policy/egress.hpp once the address is known.

#include "policy/action.hpp"
#include "policy/http_head.hpp"
#include "policy/policy.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace trproxy::policy {

struct ConnectTarget {
  std::string host;  // normalised: lower-case, no trailing dot, no brackets
  std::uint16_t port = 0;
  HostClass host_class = HostClass::other;
  AppId app = no_app;  // for an app host
};

using ConnectPlan = std::variant<Refusal, ConnectTarget>;

// The refusal a destination's host class alone calls for (not a plain ASCII name: 400; blocked:
// 403), whichever request form named it.
std::optional<Refusal> refuse_host_class(HostClass host_class);

// `bytes` is the buffer `head` was scanned from; an app host counts as one only for a client
// whose `profile` names the app (without it, the default profile).
ConnectPlan plan_connect(const Policy& policy, const RequestHead& head, std::string_view bytes,
                         const ProfileRules& profile);
ConnectPlan plan_connect(const Policy& policy, const RequestHead& head, std::string_view bytes);

// What the client's first bytes after `200 Connection established` turned out to be.
enum class HelloKind : std::uint8_t {
  sni,         // a whole ClientHello naming `sni`
  no_sni,      // a whole ClientHello without server_name
  malformed,   // starts like TLS but cannot be parsed, or is larger than the proxy reads
  incomplete,  // starts like TLS, but the ClientHello was not whole when the peek time ended
  not_tls,     // bytes that are not a TLS handshake (another protocol)
  silent,      // nothing within the peek time (a server-speaks-first protocol)
};

struct HelloFacts {
  HelloKind kind = HelloKind::silent;
  std::string_view sni;
};

struct InterceptPlan {
  std::string host;  // the sign-in or app host the leaf is minted for and the upstream verified as
  HostClass host_class = HostClass::auth;
  std::uint16_t upstream_port = 443;
  AppId app = no_app;  // for an app host
};
struct TunnelPlan {};

using HelloPlan = std::variant<InterceptPlan, TunnelPlan, Refusal>;  // Refusal: status 0, close

HelloPlan decide_after_hello(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello,
                             const ProfileRules& profile);
HelloPlan decide_after_hello(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello);

// How long the proxy waits for a ClientHello: a sign-in CONNECT must send one (head_timeout),
// anything else may be a server-speaks-first protocol (3 s, then relayed as is).
inline constexpr std::uint32_t ordinary_peek_ms = 3000;

}  // namespace trproxy::policy
