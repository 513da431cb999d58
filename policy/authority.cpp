#include "policy/authority.hpp"

#include "policy/http_chars.hpp"

#include <array>

namespace trproxy::policy {
namespace {

// Host bytes of an authority: printable ASCII except the delimiters that would end it or
// introduce userinfo.
constexpr std::array<bool, 256> make_authority_host_table() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) t[c] = true;
  for (char c : std::string_view("@/?#")) t[static_cast<unsigned char>(c)] = false;
  return t;
}

constexpr auto authority_host_table = make_authority_host_table();

std::string_view without_trailing_dot(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

bool all_of(std::string_view text, bool (*accepts)(char)) {
  for (char c : text) {
    if (!accepts(c)) return false;
  }
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return chars::hex_value(c) >= 0;
}

// a.b.c.d in decimal, each 0-255 without a leading zero: what inet_pton(AF_INET) accepts.
bool is_canonical_ipv4(std::string_view host) {
  int parts = 0;
  std::size_t pos = 0;
  while (pos <= host.size()) {
    auto dot = host.find('.', pos);
    if (dot == std::string_view::npos) dot = host.size();
    const auto part = host.substr(pos, dot - pos);
    if (part.empty() || part.size() > 3 || !all_of(part, is_digit) || (part.size() > 1 && part[0] == '0')) return false;
    int value = 0;
    for (char c : part) value = value * 10 + (c - '0');
    if (value > 255) return false;
    ++parts;
    pos = dot + 1;
  }
  return parts == 4;
}

bool is_numeric_spelling(std::string_view host) {
  // What the WHATWG URL parser calls "ends in a number": then the whole host is read as an
  // IPv4 address, in inet_aton's forms (one to four parts, octal, hex).
  host = without_trailing_dot(host);
  const auto last = host.substr(host.rfind('.') == std::string_view::npos ? 0 : host.rfind('.') + 1);
  const bool number = !last.empty() && all_of(last, is_digit);
  const bool hex =
      last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') && all_of(last.substr(2), is_hex);
  return number || hex;
}

}  // namespace

std::string format_authority(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

bool is_ambiguous_numeric_host(std::string_view host) {
  return is_numeric_spelling(host) && !is_canonical_ipv4(host);
}

std::optional<Authority> parse_authority(std::string_view text, std::uint16_t default_port, bool port_required) {
  Authority out;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close < 3) return std::nullopt;
    out.host = text.substr(1, close - 1);
    out.ip_literal_v6 = true;
    for (char c : out.host) {
      const bool ok = chars::hex_value(c) >= 0 || c == ':' || c == '.';
      if (!ok) return std::nullopt;
    }
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      out.host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      has_port = true;
    } else {
      out.host = text;
    }
    if (out.host.find(':') != std::string_view::npos) return std::nullopt;
  }
  if (out.host.empty() || out.host.size() > 254) return std::nullopt;
  // '@' (userinfo) and anything that is not a printable ASCII byte are refused here;
  // the host classifier refuses the remaining non-hostname characters.
  bool host_ok = true;
  for (char c : out.host) host_ok &= authority_host_table[chars::u8(c)];
  if (!host_ok) return std::nullopt;
  // 127.1, 2130706433, 0x7f.0.0.1: a resolver (or the parent proxy's) reads them as an address
  // that the egress rules, which see a name, never judged. Only the canonical dotted quad is one.
  if (!out.ip_literal_v6 && is_ambiguous_numeric_host(out.host)) return std::nullopt;
  if (has_port) {
    if (!chars::parse_port(port_text, out.port)) return std::nullopt;
  } else {
    if (port_required) return std::nullopt;
    out.port = default_port;
  }
  return out;
}

bool same_host(std::string_view a, std::string_view b) {
  return chars::iequals(without_trailing_dot(a), without_trailing_dot(b));
}

bool host_header_names(std::string_view host_header, std::string_view host, std::uint16_t default_port,
                       std::uint16_t connect_port) {
  const auto authority = parse_authority(host_header, default_port, false);
  if (!authority) return false;
  if (authority->port != default_port && authority->port != connect_port) return false;
  return same_host(authority->host, host);
}

}  // namespace trproxy::policy
