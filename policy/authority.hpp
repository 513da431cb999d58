#pragma once
// Host and port as a request names them: the authority grammar of request targets and of the
// Host field, and the comparisons the proxy makes between them. Pure, allocation-free.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trproxy::policy {

struct Authority {
  std::string_view host;  // without brackets for IPv6 literals
  std::uint16_t port = 0;
  bool ip_literal_v6 = false;
};

// True when a host "ends in a number" (its last label, one trailing dot ignored, is decimal
// digits or 0x and hex digits) but is not a canonical dotted quad (a.b.c.d, each 0-255, no
// leading zero): an inet_aton spelling of an address (127.1, 2130706433, 0177.0.0.1,
// 0x7f000001) or a name no resolver answers consistently. Such hosts are refused everywhere.
bool is_ambiguous_numeric_host(std::string_view host);

// "host:port", with an IPv6 literal in brackets ("[2001:db8::1]:443"): the one spelling of an
// authority the proxy writes (CONNECT lines to a parent, reasons, logs).
std::string format_authority(std::string_view host, std::uint16_t port);

// "host", "host:port", "[v6]:port". Rejects userinfo, empty hosts, bad ports and ambiguous
// numeric hosts.
std::optional<Authority> parse_authority(std::string_view text, std::uint16_t default_port, bool port_required);

// The same host name: ASCII case-insensitive, one trailing dot on either side ignored
// (DESIGN.md host matching). Never allocates.
bool same_host(std::string_view a, std::string_view b);

// True when a Host field value names `host`: the same host, and a port that is absent, the
// scheme's default port or the port the connection was made to (the CONNECT port).
bool host_header_names(std::string_view host_header, std::string_view host, std::uint16_t default_port,
                       std::uint16_t connect_port);

}  // namespace trproxy::policy
