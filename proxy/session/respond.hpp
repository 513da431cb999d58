#pragma once
// The proxy's own answers: a short plain-text error response whose body is the status and the
// one-line reason (like Squid's error pages), and the reason phrases of the statuses it sends.

#include <string>
#include <string_view>

namespace trproxy::proxy {

// Closes the connection (Connection: close) and is never cached.
std::string error_response(int status, std::string_view reason);
std::string_view status_text(int status);

}  // namespace trproxy::proxy
