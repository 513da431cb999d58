#include "policy/profile.hpp"

#include <algorithm>

namespace trproxy::policy {

ProfileRules::ProfileRules(std::string profile_name, const config::TenantHeaders& values, const std::string& path,
                           const std::vector<config::App>& apps, const std::string& apps_path, const AppTable& table)
    : name(std::move(profile_name)),
      mode(values.mode),
      enforcement(values.enforcement),
      headers(values, path),
      app_blocks(table.size()) {
  for (std::size_t i = 0; i < apps.size(); ++i) {
    if (const auto id = table.find(apps[i].name)) {
      app_blocks[*id] = render_app_block(apps[i], config::app_key_path(apps_path, apps, i));
    }
  }
}

std::optional<std::size_t> select_profile(const std::vector<config::Profile>& profiles,
                                          const std::optional<config::IpAddress>& client) {
  if (!client) return std::nullopt;
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    const auto& clients = profiles[i].clients;
    if (std::any_of(clients.begin(), clients.end(), [&](const config::Cidr& cidr) { return cidr.contains(*client); })) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace trproxy::policy
