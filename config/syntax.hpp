#pragma once
// Small syntax checks shared by the config loader and the policy code. Pure functions.

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::config {

// 8-4-4-4-12 hexadecimal digits, any letter case.
bool is_guid(std::string_view text);

// A DNS host name: dot-separated labels of letters, digits and inner hyphens (1-63 each,
// 253 in all), at least two labels, ASCII only. One trailing dot is allowed.
bool is_domain_name(std::string_view text);

// Lower-cases ASCII and removes one trailing dot: the form every host comparison uses.
std::string normalize_host(std::string_view host);

// A host against a pattern of `block`, `allow` or `sign_in_guard.tunnel_names`: an exact name,
// or "*.suffix" matching any name that ends in ".suffix" (not "suffix" itself). ASCII
// case-insensitive, one trailing dot on the host ignored; patterns are normalised.
bool host_matches_pattern(std::string_view host, std::string_view pattern);
bool host_matches_any(std::string_view host, const std::vector<std::string>& patterns);

// Appends `c`, or `\xNN` when it is a control byte (below 0x20, or DEL): how error messages and
// logs show bytes that came from outside.
void append_visible(std::string& out, char c);

// "250ms", "10s", "2m", "1h": a positive whole number and one unit.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// RFC 3339 in UTC, whole seconds: "2035-05-01T12:00:00Z".
std::string rfc3339_utc(std::time_t time);

}  // namespace trproxy::config
