#pragma once
// Reading `apps` (top level and per profile) into validated App entries, and the rule that a
// host belongs to one app only and never to the Entra sign-in or excluded hosts. Internal to
// config/: the loader calls it.

#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace trproxy::config {

// `node` is the mapping under `path` ("apps" or "profiles[2].apps"): built-in apps by name and
// `custom`. Every value is checked against its vendor's documented shape.
std::vector<App> load_apps(const YAML::Node& node, const std::string& path);

// Throws a ConfigError naming both places when two apps claim one host (an exact name, or a
// wildcard covering the other's), when one app name carries different hosts in two places, or
// when an app host is an Entra sign-in or excluded host.
void check_app_hosts(const Config& config);

}  // namespace trproxy::config
