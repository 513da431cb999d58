#pragma once
// host:port pairs as written in the config ("0.0.0.0:3128", "[::1]:9090", "127.0.0.1:8443").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trproxy::config {

struct Endpoint {
  std::string host;  // IPv6 literals are stored without brackets
  std::uint16_t port = 0;

  [[nodiscard]] std::string to_string() const;  // brackets IPv6 literals again
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses "host:port" / "[v6]:port"; the port is 1-65535 (or 0 when allow_port_zero).
std::optional<Endpoint> parse_endpoint(std::string_view text, bool allow_port_zero = false);

// Plain decimal port 1..65535, nothing else.
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace trproxy::config
