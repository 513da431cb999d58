#pragma once
// The checks behind `apps` values: each vendor's documented value shape, and what a custom
// header's name and value may be. Pure; the loader turns a problem into a ConfigError.

#include "config/app_catalog.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace trproxy::config {

// nullopt when `value` has `shape`; otherwise what is wrong with it, to follow the quoted value
// ("is not a Slack workspace or organization ID (T... or E...)").
std::optional<std::string> value_shape_problem(ValueShape shape, std::string_view value);

// The value as it goes on the wire: domains and UUIDs lower-cased, YouTube's level capitalised.
std::string canonical_value(ValueShape shape, std::string_view value);

// nullopt when `name` may be a custom app's header: a field-name token that none of the
// proxy's own fields (framing, hop-by-hop, Host, the Entra headers) use.
std::optional<std::string> custom_header_name_problem(std::string_view name);

// A field name as every comparison of them sees it: lower case, '_' read as '-' (some servers fold
// '_' into '-', so "X_A" reaches them as "X-A").
std::string folded_field_name(std::string_view name);

// The longest single value any app takes, and a custom header value's.
inline constexpr std::size_t max_app_value_length = 1024;

}  // namespace trproxy::config
