#pragma once
// What the proxy did with a connection or request: the access log's `action` and the key of
// the connection metrics (DESIGN.md, "Logs").

#include <cstdint>
#include <optional>
#include <string>

namespace trproxy::policy {

enum class Action : std::uint8_t { intercept, tunnel, block, deny, forward, pac, count };
const char* to_string(Action action);

// The egress rule behind a refusal (policy/egress.hpp): the responder counts it, wherever the
// refusal was decided (before anything was resolved, or per address while dialling).
enum class EgressRule : std::uint8_t { port, address, self, count };

// A request or connection the proxy answers itself instead of passing it on. `status` 0 means
// "close without a response" (the client already got `200 Connection established`, or a TLS
// stream is in an unknown state).
struct Refusal {
  int status = 0;
  Action action = Action::deny;
  std::string reason;  // one line, never client bytes beyond a validated host name
  std::optional<EgressRule> egress_rule = std::nullopt;
};

}  // namespace trproxy::policy
