#pragma once
// Profiles (DESIGN.md, "Profiles and report mode"): which header values and which enforcement
// apply to a client, chosen by its address per request. Host lists, block and allow are global.

#include "config/cidr.hpp"
#include "config/config.hpp"
#include "policy/apps.hpp"
#include "policy/header_rules.hpp"
#include "policy/host_class.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace trproxy::policy {

// One profile, rendered once per Config: its name ("default" for tenant_restrictions), its
// header mode and enforcement, the exact header bytes it inserts for the sign-in hosts, and for
// each app of `table` that it names (its own `apps`, else the top level's) the app's lines.
struct ProfileRules {
  ProfileRules(std::string profile_name, const config::TenantHeaders& values, const std::string& path,
               const std::vector<config::App>& apps, const std::string& apps_path, const AppTable& table);

  std::string name;
  config::Mode mode;
  config::Enforcement enforcement;
  HeaderRules headers;
  std::vector<std::optional<std::string>> app_blocks;  // by AppId; nullopt: not this profile's app

  [[nodiscard]] bool reports() const { return enforcement == config::Enforcement::report; }
  [[nodiscard]] bool has_app(AppId app) const { return app < app_blocks.size() && app_blocks[app].has_value(); }
  // What enforce mode puts on a request to `host_class` (and `app`, for an app host).
  [[nodiscard]] std::string_view enforced_block(HostClass host_class, AppId app = no_app) const {
    if (host_class == HostClass::app) return has_app(app) ? std::string_view(*app_blocks[app]) : std::string_view{};
    return headers.inserted_block(host_class);
  }
  // What goes on an intercepted request: nothing in report mode.
  [[nodiscard]] std::string_view inserted_block(HostClass host_class, AppId app = no_app) const {
    return reports() ? std::string_view{} : enforced_block(host_class, app);
  }
};

// The index in `profiles` of the first profile whose clients contain `client`; nullopt means
// the default profile (no profile matches, or no client address is known).
std::optional<std::size_t> select_profile(const std::vector<config::Profile>& profiles,
                                          const std::optional<config::IpAddress>& client);

}  // namespace trproxy::policy
