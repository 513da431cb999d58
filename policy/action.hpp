#pragma once
// What the proxy did with a connection or request: the access log's `action` and the key of
// the connection metrics (DESIGN.md, "Logs").

#include <cstdint>
#include <string>

namespace trproxy::policy {

enum class Action : std::uint8_t { intercept, tunnel, block, deny, forward, pac, count };
const char* to_string(Action action);

// A request or connection the proxy answers itself instead of passing it on. `status` 0 means
// "close without a response" (the client already got `200 Connection established`, or a TLS
// stream is in an unknown state).
struct Refusal {
  int status = 0;
  Action action = Action::deny;
  std::string reason;  // one line, never client bytes beyond a validated host name
};

}  // namespace trproxy::policy
