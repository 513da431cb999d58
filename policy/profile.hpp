#pragma once
// Profiles (DESIGN.md, "Profiles and report mode"): which header values and which enforcement
// apply to a client, chosen by its address per request. Host lists, block and allow are global.

#include "config/cidr.hpp"
#include "config/config.hpp"
#include "policy/header_rules.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace trproxy::policy {

// One profile, rendered once per Config: its name ("default" for tenant_restrictions), its
// header mode and enforcement, and the exact header bytes it inserts.
struct ProfileRules {
  ProfileRules(std::string profile_name, const config::TenantHeaders& values, const std::string& path)
      : name(std::move(profile_name)), mode(values.mode), enforcement(values.enforcement), headers(values, path) {}

  std::string name;
  config::Mode mode;
  config::Enforcement enforcement;
  HeaderRules headers;

  [[nodiscard]] bool reports() const { return enforcement == config::Enforcement::report; }
  // What goes on an intercepted request to `host_class`: nothing in report mode.
  [[nodiscard]] std::string_view inserted_block(HostClass host_class) const {
    return reports() ? std::string_view{} : headers.inserted_block(host_class);
  }
};

// The index in `profiles` of the first profile whose clients contain `client`; nullopt means
// the default profile (no profile matches, or no client address is known).
std::optional<std::size_t> select_profile(const std::vector<config::Profile>& profiles,
                                          const std::optional<config::IpAddress>& client);

}  // namespace trproxy::policy
