#pragma once
// IPv4/IPv6 address prefixes for the client allow-list. Pure parsing and matching, no sockets.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trproxy::config {

// An address in 16-byte form; IPv4 is kept as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// so that one comparison covers clients on dual-stack sockets.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  [[nodiscard]] bool is_v4_mapped() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

std::optional<IpAddress> parse_ip(std::string_view text);

// "192.0.2.1" for an IPv4-mapped address, else the RFC 5952 IPv6 text (no brackets).
std::string to_string(const IpAddress& address);

struct Cidr {
  IpAddress network;
  unsigned prefix_bits = 0;  // counted over the 128-bit form
  std::string text;          // as configured, for summaries

  [[nodiscard]] bool contains(const IpAddress& address) const;
};

// "10.0.0.0/8", "::1/128", "fc00::/7"; a bare address means a single host.
// Host bits set beyond the prefix are refused: "10.0.0.1/8" is almost always a typo.
std::optional<Cidr> parse_cidr(std::string_view text);

}  // namespace trproxy::config
