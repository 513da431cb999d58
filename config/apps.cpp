#include "config/apps.hpp"

#include "config/app_catalog.hpp"
#include "config/app_values.hpp"
#include "config/syntax.hpp"
#include "config/yaml_values.hpp"

#include <algorithm>
#include <map>

namespace trproxy::config {
namespace {

using namespace yaml;

std::string item_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// The values of one header: a scalar where the vendor takes one value, else a non-empty list
// of at most `max_items`, no value twice. Joined with "," and no spaces.
std::string header_value(const YAML::Node& node, const std::string& path, const AppHeaderSpec& spec) {
  std::vector<std::string> values;
  if (spec.max_items == 1) {
    values.push_back(scalar(node, path));
  } else {
    values = string_list(node, path);
    if (values.empty()) fail(path, "expected at least one value (an empty list would restrict nothing)");
    if (values.size() > spec.max_items)
      fail(path, "has " + std::to_string(values.size()) + " values; the vendor takes at most " +
                     std::to_string(spec.max_items));
  }
  std::string joined;
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto at = spec.max_items == 1 ? path : item_path(path, i);
    if (auto problem = value_shape_problem(spec.shape, values[i])) fail_value(at, values[i], *problem);
    auto value = canonical_value(spec.shape, values[i]);
    if (std::find(seen.begin(), seen.end(), value) != seen.end()) fail_value(at, values[i], "is listed twice");
    joined += (joined.empty() ? "" : ",") + value;
    seen.push_back(std::move(value));
  }
  return joined;
}

std::vector<std::string> app_hosts(const YAML::Node& node, const std::string& path) {
  auto hosts = host_pattern_list(node, path);
  if (hosts.empty()) fail(path, "expected at least one host");
  return hosts;
}

App load_builtin(const AppSpec& spec, const YAML::Node& node, const std::string& path) {
  std::vector<std::string_view> keys{"hosts"};
  for (const auto& header : spec.headers) keys.push_back(header.key);
  if (!node.IsMap()) fail(path, "expected a mapping of keys");
  for (const auto& entry : node) {
    const auto key = entry.first.Scalar();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) fail(join(path, key), "unknown key");
  }
  App app{std::string(spec.name), false, {}, {}};
  for (const auto& header : spec.headers) {
    const auto key = std::string(header.key);
    app.headers.push_back(
        {std::string(header.name), header_value(required(node, key.c_str(), path), join(path, key), header)});
  }
  if (const auto hosts = node["hosts"]) {
    app.hosts = app_hosts(hosts, path + ".hosts");
  } else {
    for (const auto host : spec.hosts) app.hosts.emplace_back(host);
  }
  return app;
}

App load_custom(const YAML::Node& node, const std::string& path) {
  expect_map(node, path, {"name", "hosts", "headers"});
  App app;
  app.custom = true;
  app.name = scalar(required(node, "name", path), path + ".name");
  if (!is_label_name(app.name))
    fail_value(path + ".name", app.name, "is not an app name (1-64 letters, digits, '-', '_', '.')");
  if (find_builtin_app(app.name) != nullptr)
    fail_value(path + ".name", app.name, "is a built-in app; configure it under apps." + app.name);
  app.hosts = app_hosts(required(node, "hosts", path), path + ".hosts");
  const auto headers = required(node, "headers", path);
  const auto headers_path = path + ".headers";
  if (!headers.IsMap() || headers.size() == 0)
    fail(headers_path, "expected a mapping of at least one header name to its value");
  std::vector<std::string> seen;
  for (const auto& entry : headers) {
    const auto name = entry.first.Scalar();
    const auto at = join(headers_path, name);
    if (auto problem = custom_header_name_problem(name)) fail_value(at, name, *problem);
    auto folded = folded_field_name(name);
    if (std::find(seen.begin(), seen.end(), folded) != seen.end())
      fail_value(at, name, "is named twice (header names are case-insensitive, '_' counts as '-')");
    seen.push_back(std::move(folded));
    const auto value = scalar(entry.second, at);
    if (auto problem = value_shape_problem(ValueShape::custom, value)) fail_value(at, value, *problem);
    app.headers.push_back({name, value});
  }
  return app;
}

}  // namespace

std::vector<App> load_apps(const YAML::Node& node, const std::string& path) {
  if (node.IsNull()) return {};
  if (!node.IsMap()) fail(path, "expected a mapping of app names (github, google, ..., custom)");
  std::vector<App> apps;
  for (const auto& entry : node) {
    const auto name = entry.first.Scalar();
    const auto at = join(path, name);
    if (name == "custom") {
      if (!entry.second.IsSequence()) fail(at, "expected a list of apps (name, hosts, headers)");
      for (std::size_t i = 0; i < entry.second.size(); ++i) {
        auto app = load_custom(entry.second[i], item_path(at, i));
        for (const auto& other : apps) {
          if (other.name == app.name) fail_value(item_path(at, i) + ".name", app.name, "is already an app's name");
        }
        apps.push_back(std::move(app));
      }
      continue;
    }
    const auto* spec = find_builtin_app(name);
    if (spec == nullptr) {
      std::string known;
      for (const auto& app : builtin_apps()) known += std::string(app.name) + ", ";
      fail(at, "unknown app (built in: " + known + "or list it under custom)");
    }
    apps.push_back(load_builtin(*spec, entry.second, at));
  }
  return apps;
}

namespace {

// One app as configured at one place.
struct AppPlace {
  const App* app;
  std::string path;
};

bool patterns_overlap(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const bool a_wild = a.rfind("*.", 0) == 0;
  const bool b_wild = b.rfind("*.", 0) == 0;
  if (!a_wild && b_wild) return host_matches_pattern(a, b);
  if (a_wild && !b_wild) return host_matches_pattern(b, a);
  if (a_wild && b_wild) return host_matches_pattern(a.substr(2), b) || host_matches_pattern(b.substr(2), a);
  return false;
}

void check_same_hosts(const AppPlace& first, const AppPlace& again) {
  auto a = first.app->hosts;
  auto b = again.app->hosts;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b)
    fail(again.path + ".hosts", "differ from the hosts of " + first.path + "; an app's hosts are the same everywhere");
}

void check_against_entra(const Config& config, const AppPlace& place) {
  const auto& tr = config.tenant_restrictions;
  for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts, &tr.exclude, &documented_exclusions()}) {
    for (const auto& host : *list) {
      for (const auto& pattern : place.app->hosts) {
        if (patterns_overlap(host, pattern)) {
          fail_value(place.path + ".hosts", pattern,
                     "covers " + host + ", a Microsoft sign-in or excluded host of tenant_restrictions");
        }
      }
    }
  }
}

}  // namespace

void check_app_hosts(const Config& config) {
  std::vector<AppPlace> places;
  for_each_app_list(config, [&places](const std::vector<App>& apps, const std::string& list_path) {
    for (std::size_t i = 0; i < apps.size(); ++i) places.push_back({&apps[i], app_key_path(list_path, apps, i)});
  });
  std::map<std::string, const AppPlace*> first_place;
  for (const auto& place : places) {
    check_against_entra(config, place);
    if (const auto [it, fresh] = first_place.try_emplace(place.app->name, &place); !fresh) {
      check_same_hosts(*it->second, place);
      continue;
    }
    for (const auto& [name, other] : first_place) {
      if (name == place.app->name) continue;
      for (const auto& mine : place.app->hosts) {
        for (const auto& theirs : other->app->hosts) {
          if (patterns_overlap(mine, theirs))
            fail_value(place.path + ".hosts", mine,
                       "is also a host of " + other->path + " (" + theirs + "); a host belongs to one app");
        }
      }
    }
  }
}

}  // namespace trproxy::config
