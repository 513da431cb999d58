#pragma once
// `trproxy explain` (DESIGN.md, "Command line"): what the policy does with one target for one
// client, offline. It asks the same decision functions the engine asks, so an explanation
// cannot drift from what the proxy does; it resolves nothing and names the address rules that
// would still apply to a host name's addresses.

#include "config/cidr.hpp"
#include "policy/policy.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace trproxy::policy {

struct ExplainError {
  std::string message;  // one line: why TARGET cannot be explained
};

// TARGET: "https://host[:port]/path", "http://host[:port]/path" or "host[:port]" (a CONNECT,
// port 443 by default). The result is `key: value` lines, at least class:, profile: and
// action:, then the inserted header lines of an intercept verbatim (`header: ...`).
std::variant<std::string, ExplainError> explain(const Policy& policy, const std::optional<config::IpAddress>& client,
                                                std::string_view target);

// `trproxy explain --transparent [--sni NAME] ADDRESS:PORT`: what a flow the packet filter sent
// to a transparent listener, with that original destination and that server name (or none),
// would get (DESIGN.md, "Transparent mode"). Local addresses are only known at run time; the
// configured listeners are checked here.
std::variant<std::string, ExplainError> explain_transparent(const Policy& policy,
                                                            const std::optional<config::IpAddress>& client,
                                                            std::string_view destination,
                                                            const std::optional<std::string>& sni);

}  // namespace trproxy::policy
