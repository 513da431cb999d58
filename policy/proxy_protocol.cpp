#include "policy/proxy_protocol.hpp"

#include <algorithm>
#include <cstring>

namespace trproxy::policy {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Enough of the v2 signature that no HTTP request starts with it (a NUL after an empty line).
constexpr std::size_t v2_recognisable = 5;

ProxyHeader invalid(int version, std::string_view reason) {
  ProxyHeader out;
  out.status = ProxyHeaderStatus::invalid;
  out.version = version;
  out.reason = reason;
  return out;
}

bool is_prefix_of(std::string_view bytes, std::string_view whole) {
  return whole.substr(0, bytes.size()) == bytes.substr(0, whole.size());
}

std::uint16_t be16(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) |
                                    static_cast<unsigned char>(bytes[at + 1]));
}

// A decimal port, 0..65535, without sign or leading zeros (the spec's form).
std::optional<std::uint16_t> v1_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Splits the line after "PROXY " into exactly `count` single-space separated fields.
bool split_fields(std::string_view line, std::string_view* fields, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const auto space = line.find(' ');
    const bool last = i + 1 == count;
    if (last != (space == std::string_view::npos)) return false;
    fields[i] = line.substr(0, space);
    if (fields[i].empty()) return false;
    if (!last) line.remove_prefix(space + 1);
  }
  return true;
}

ProxyHeader parse_v1(std::string_view bytes) {
  const auto window = bytes.substr(0, proxy_v1_max_bytes);
  const auto lf = window.find('\n');
  if (lf == std::string_view::npos) {
    if (bytes.size() >= proxy_v1_max_bytes) return invalid(1, "PROXY v1 header has no CRLF within 107 bytes");
    ProxyHeader more;
    more.version = 1;
    return more;
  }
  if (lf == 0 || window[lf - 1] != '\r') return invalid(1, "PROXY v1 header line does not end in CRLF");
  const auto line = window.substr(v1_prefix.size(), lf - 1 - v1_prefix.size());
  ProxyHeader out;
  out.version = 1;
  out.length = lf + 1;
  if (line == "UNKNOWN" || line.substr(0, 8) == "UNKNOWN ") {  // the balancer does not know: use the peer
    out.status = ProxyHeaderStatus::complete;
    return out;
  }
  std::string_view fields[5];
  if (!split_fields(line, fields, 5)) return invalid(1, "PROXY v1 header does not have 5 fields after PROXY");
  const auto protocol = fields[0];
  if (protocol != "TCP4" && protocol != "TCP6") return invalid(1, "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const bool v4 = protocol == "TCP4";
  for (const auto text : {fields[1], fields[2]}) {
    const auto address = config::parse_ip(text);
    // inet_pton accepts only dotted quads for IPv4; an IPv6 text always holds a colon.
    if (!address || v4 != (text.find(':') == std::string_view::npos)) {
      return invalid(
          1, v4 ? "PROXY v1 TCP4 address is not an IPv4 address" : "PROXY v1 TCP6 address is not an IPv6 address");
    }
  }
  const auto source_port = v1_port(fields[3]);
  if (!source_port || !v1_port(fields[4])) return invalid(1, "PROXY v1 port is not a number 0..65535");
  out.client = config::parse_ip(fields[1]);
  out.client_port = *source_port;
  out.status = ProxyHeaderStatus::complete;
  return out;
}

ProxyHeader parse_v2(std::string_view bytes, std::size_t max_bytes) {
  ProxyHeader out;
  out.version = 2;
  if (bytes.size() < proxy_v2_fixed_bytes) return out;  // need_more
  const auto version_command = static_cast<unsigned char>(bytes[12]);
  const auto family = static_cast<unsigned char>(bytes[13]);
  const std::size_t total = proxy_v2_fixed_bytes + be16(bytes, 14);
  if ((version_command >> 4) != 2) return invalid(2, "PROXY v2 header has a version other than 2");
  const unsigned command = version_command & 0x0f;
  if (command > 1) return invalid(2, "PROXY v2 command is neither LOCAL nor PROXY");
  if (total > max_bytes) return invalid(2, "PROXY v2 header is larger than limits.max_head_bytes");
  if (bytes.size() < total) return out;  // need_more
  out.length = total;
  const auto body = bytes.substr(proxy_v2_fixed_bytes, total - proxy_v2_fixed_bytes);

  std::size_t address_bytes = 0;
  if (command == 1) {  // PROXY; LOCAL (the balancer's own connection) ignores the address block
    switch (family) {
      case 0x00: break;                      // UNSPEC: the balancer does not know; use the peer
      case 0x11: address_bytes = 12; break;  // TCP over IPv4
      case 0x21: address_bytes = 36; break;  // TCP over IPv6
      default: return invalid(2, "PROXY v2 transport is not TCP over IPv4 or IPv6");
    }
  }
  if (body.size() < address_bytes) return invalid(2, "PROXY v2 header is too short for its addresses");
  if (address_bytes == 12) {
    config::IpAddress client;
    client.bytes[10] = 0xff;
    client.bytes[11] = 0xff;
    std::memcpy(&client.bytes[12], body.data(), 4);
    out.client = client;
    out.client_port = be16(body, 8);
  } else if (address_bytes == 36) {
    config::IpAddress client;
    std::memcpy(client.bytes.data(), body.data(), 16);
    out.client = client;
    out.client_port = be16(body, 32);
  }
  // TLVs (type, 16-bit length, value) are not used, but each must fit inside the header.
  if (command == 1 && family != 0x00) {
    auto tlvs = body.substr(address_bytes);
    while (!tlvs.empty()) {
      if (tlvs.size() < 3 || tlvs.size() - 3 < be16(tlvs, 1)) return invalid(2, "PROXY v2 TLV runs past the header");
      tlvs.remove_prefix(3 + be16(tlvs, 1));
    }
  }
  out.status = ProxyHeaderStatus::complete;
  return out;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.empty()) return ProxyHeader{};
  if (bytes[0] == 'P') {
    if (bytes.size() < v1_prefix.size()) {
      return is_prefix_of(bytes, v1_prefix) ? ProxyHeader{}
                                            : invalid(0, "connection does not start with a PROXY header");
    }
    if (bytes.substr(0, v1_prefix.size()) == v1_prefix) return parse_v1(bytes);
  } else if (is_prefix_of(bytes, v2_signature)) {
    return bytes.size() < v2_signature.size() ? ProxyHeader{} : parse_v2(bytes, max_bytes);
  }
  return invalid(0, "connection does not start with a PROXY header");
}

bool starts_like_proxy_header(std::string_view bytes) {
  if (bytes.substr(0, v1_prefix.size()) == v1_prefix) return true;
  return bytes.size() >= v2_recognisable && is_prefix_of(bytes, v2_signature);
}

}  // namespace trproxy::policy
