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

}  // namespace

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
