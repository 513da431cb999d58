#include "config/yaml_values.hpp"

#include "config/syntax.hpp"

#include <algorithm>

namespace trproxy::config::yaml {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw ConfigError(path, path + ": " + problem);
}

std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) append_visible(out, c);
  return out + "\"";
}

[[noreturn]] void fail_value(const std::string& path, const std::string& value, const std::string& what) {
  fail(path, quoted(value) + " " + what);
}

std::string join(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// A mapping whose keys must all be known; a typo must never silently drop a setting.
void expect_map(const YAML::Node& node, const std::string& path, Keys allowed) {
  if (!node.IsMap()) {
    fail(path.empty() ? "config" : path, "expected a mapping of keys");
  }
  for (const auto& entry : node) {
    const auto key = entry.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      fail(join(path, key), "unknown key");
    }
  }
}

std::string scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    fail(path, "expected a single value");
  }
  return node.Scalar();
}

bool boolean(const YAML::Node& node, const std::string& path) {
  const auto text = scalar(node, path);
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  fail_value(path, text, "is not true or false");
}

std::uint64_t whole_number(const YAML::Node& node, const std::string& path, std::uint64_t min, std::uint64_t max) {
  const auto text = scalar(node, path);
  if (text.empty() || text.size() > 12 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail_value(path, text, "is not a whole number");
  }
  const auto value = std::stoull(text);
  if (value < min || value > max) {
    fail_value(path, text, "is out of range " + std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

std::chrono::milliseconds duration(const YAML::Node& node, const std::string& path) {
  const auto text = scalar(node, path);
  const auto value = parse_duration(text);
  if (!value) {
    fail_value(path, text, "is not a duration (write e.g. 250ms, 10s, 2m)");
  }
  return *value;
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence()) {
    fail(path, "expected a list");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    out.push_back(scalar(node[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::filesystem::path resolve_path(const std::filesystem::path& base, const std::string& value) {
  const std::filesystem::path p(value);
  return p.is_absolute() ? p : (base / p).lexically_normal();
}

std::string host_name(const std::string& value, const std::string& path) {
  if (!is_domain_name(value)) {
    fail_value(path, value, "is not a DNS host name");
  }
  return normalize_host(value);
}

std::vector<std::string> host_list(const YAML::Node& node, const std::string& path) {
  std::vector<std::string> out;
  const auto values = string_list(node, path);
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto host = host_name(values[i], path + "[" + std::to_string(i) + "]");
    if (std::find(out.begin(), out.end(), host) == out.end()) {
      out.push_back(std::move(host));
    }
  }
  return out;
}

// Listeners may use port 0 (the OS picks one, logged at start): tests bind that way.
Endpoint ip_endpoint(const std::string& text, const std::string& path, bool allow_port_zero) {
  const auto endpoint = parse_endpoint(text, allow_port_zero);
  if (!endpoint || !parse_ip(endpoint->host)) {
    fail_value(path, text, "is not an IP address and port (e.g. 127.0.0.1:3128 or [::1]:3128)");
  }
  return *endpoint;
}

// "host:port" where host is a DNS name or an IP address ("[v6]:port").
Endpoint host_endpoint(const std::string& text, const std::string& path) {
  const auto endpoint = parse_endpoint(text);
  if (!endpoint || (!parse_ip(endpoint->host) && !is_domain_name(endpoint->host))) {
    fail_value(path, text, "is not a host and port (e.g. proxy.corp.example:8080 or 10.0.0.5:3128)");
  }
  auto out = *endpoint;
  if (!parse_ip(out.host)) out.host = normalize_host(out.host);
  return out;
}

std::string guid(const YAML::Node& node, const std::string& path) {
  const auto text = scalar(node, path);
  if (!is_guid(text)) {
    fail_value(path, text, "is not a GUID");
  }
  return text;
}

YAML::Node required(const YAML::Node& parent, const char* key, const std::string& path) {
  auto node = parent[key];
  if (!node) {
    fail(join(path, key), "missing");
  }
  return node;
}

// A profile name goes into logs and metric labels: keep it to a short plain token.
bool is_label_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// Exact host names or "*." wildcards ("*.sharepoint.com").
std::vector<std::string> host_pattern_list(const YAML::Node& node, const std::string& path) {
  std::vector<std::string> out;
  const auto values = string_list(node, path);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& value = values[i];
    const bool wildcard = value.rfind("*.", 0) == 0;
    const auto name = wildcard ? value.substr(2) : value;
    if (!is_domain_name(name)) {
      fail_value(path + "[" + std::to_string(i) + "]", value,
                 "is not a host name or a \"*.\" wildcard (e.g. contoso.sharepoint.com or *.sharepoint.com)");
    }
    auto pattern = (wildcard ? "*." : "") + normalize_host(name);
    if (std::find(out.begin(), out.end(), pattern) == out.end()) {
      out.push_back(std::move(pattern));
    }
  }
  return out;
}

}  // namespace trproxy::config::yaml
