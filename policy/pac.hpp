#pragma once
// The PAC file served at /proxy.pac and /wpad.dat (DESIGN.md, "Admin and PAC endpoints").

#include "policy/policy.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::policy {

// How a PAC answer is labelled, on the admin listener and the proxy listener alike: a client may
// keep it five minutes, so a reload that changes it reaches every client within that.
inline constexpr std::string_view pac_content_type = "application/x-ns-proxy-autoconfig";
inline constexpr std::string_view pac_cache_control = "max-age=300";

// Sends every auth, MSA and blocked host to "PROXY host:port" (pac.proxy when set), everything
// else to pac.otherwise (default DIRECT). `proxy_host` is the name the PAC was requested with
// (its Host header without port).
std::string make_pac(const Policy& policy, std::string_view proxy_host, std::uint16_t proxy_port);

// The host part of a Host header value ("proxy.corp:9090" -> "proxy.corp", "[::1]:1" -> "[::1]");
// falls back to `fallback` when the value is empty or not a plain host.
std::string pac_host_from(std::string_view host_header, std::string_view fallback);

}  // namespace trproxy::policy
