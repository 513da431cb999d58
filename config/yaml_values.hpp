#pragma once
// Reading one YAML value into a checked C++ value, for the config loaders. Each reader names
// the key path in its ConfigError ("tenant_restrictions.v2.tenant_id: \"abc\" is not a GUID"), and
// the loader turns the path into FILE:LINE. Internal to config/.

#include "config/endpoint.hpp"
#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trproxy::config::yaml {

using Keys = std::initializer_list<std::string_view>;

[[noreturn]] void fail(const std::string& path, const std::string& problem);
// A value from the file, shown with control bytes escaped.
std::string quoted(const std::string& value);
[[noreturn]] void fail_value(const std::string& path, const std::string& value, const std::string& what);
// "parent.key", or "key" at the root.
std::string join(const std::string& parent, std::string_view key);
// A mapping whose keys must all be known; a typo must never silently drop a setting.
void expect_map(const YAML::Node& node, const std::string& path, Keys allowed);
std::string scalar(const YAML::Node& node, const std::string& path);
bool boolean(const YAML::Node& node, const std::string& path);
std::uint64_t whole_number(const YAML::Node& node, const std::string& path, std::uint64_t min, std::uint64_t max);
std::chrono::milliseconds duration(const YAML::Node& node, const std::string& path);
std::vector<std::string> string_list(const YAML::Node& node, const std::string& path);
std::filesystem::path resolve_path(const std::filesystem::path& base, const std::string& value);
// A DNS name, normalised (lower case, no trailing dot).
std::string host_name(const std::string& value, const std::string& path);
// DNS names, normalised, repeats dropped.
std::vector<std::string> host_list(const YAML::Node& node, const std::string& path);
// Exact host names or "*." wildcards ("*.sharepoint.com"), normalised, repeats dropped.
std::vector<std::string> host_pattern_list(const YAML::Node& node, const std::string& path);
// Listeners may use port 0 (the OS picks one, logged at start): tests bind that way.
Endpoint ip_endpoint(const std::string& text, const std::string& path, bool allow_port_zero = false);
// "host:port" where host is a DNS name or an IP address ("[v6]:port").
Endpoint host_endpoint(const std::string& text, const std::string& path);
std::string guid(const YAML::Node& node, const std::string& path);
YAML::Node required(const YAML::Node& parent, const char* key, const std::string& path);
// A name that goes into logs and metric labels (profiles, custom apps): a short plain token.
bool is_label_name(std::string_view name);

// The value a scalar names, one of `choices`; anything else fails with "is not one of <the
// names>" (or with `what`, when given).
template <class Value, std::size_t N>
Value named_value(const YAML::Node& node, const std::string& path, const std::pair<const char*, Value> (&choices)[N],
                  const std::string& what = "") {
  const auto text = scalar(node, path);
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
  }
  std::string names;
  for (const auto& [name, value] : choices) names += (names.empty() ? "" : ", ") + std::string(name);
  fail_value(path, text, what.empty() ? "is not one of " + names : what);
}

}  // namespace trproxy::config::yaml
