#include "config/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace trproxy::config {

bool IpAddress::is_v4_mapped() const {
  static constexpr std::array<std::uint8_t, 12> prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) {
    return std::nullopt;
  }
  const std::string z(text);  // inet_pton wants a terminated string
  IpAddress out;
  in_addr v4{};
  if (inet_pton(AF_INET, z.c_str(), &v4) == 1) {
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(&out.bytes[12], &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, z.c_str(), &v6) == 1) {
    std::memcpy(out.bytes.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool Cidr::contains(const IpAddress& address) const {
  const unsigned full = prefix_bits / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), full) != 0) {
    return false;
  }
  const unsigned rest = prefix_bits % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (address.bytes[full] & mask) == (network.bytes[full] & mask);
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = parse_ip(text.substr(0, slash));
  if (!address) {
    return std::nullopt;
  }
  const bool v4 = address->is_v4_mapped() && text.substr(0, slash).find(':') == std::string_view::npos;
  const unsigned max_bits = v4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      return std::nullopt;
    }
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      bits = bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (bits > max_bits) {
      return std::nullopt;
    }
  }
  Cidr cidr{*address, v4 ? bits + 96 : bits, std::string(text)};
  // Refuse host bits beyond the prefix.
  IpAddress masked{};
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bit = i * 8;
    std::uint8_t mask = 0;
    if (bit + 8 <= cidr.prefix_bits) {
      mask = 0xff;
    } else if (bit < cidr.prefix_bits) {
      mask = static_cast<std::uint8_t>(0xff << (8 - (cidr.prefix_bits - bit)));
    }
    masked.bytes[i] = address->bytes[i] & mask;
  }
  if (!(masked == *address)) {
    return std::nullopt;
  }
  return cidr;
}

std::string to_string(const IpAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.is_v4_mapped()) {
    inet_ntop(AF_INET, address.bytes.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, address.bytes.data(), text, sizeof text);
  }
  return text;
}

}  // namespace trproxy::config
