#include "policy/profile.hpp"

#include <algorithm>

namespace trproxy::policy {

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
