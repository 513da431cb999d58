#pragma once
// One immutable snapshot of everything decided per Config: the config itself, the host
// classes and the rendered header blocks. Sessions hold a shared_ptr to the snapshot they
// started with; a reload builds a new one and swaps it in.

#include "config/config.hpp"
#include "policy/header_rules.hpp"
#include "policy/host_class.hpp"
#include "policy/profile.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace trproxy::policy {

class Policy {
 public:
  // Throws config::ConfigError when the config cannot be enforced (e.g. a header over 8 KiB).
  explicit Policy(config::Config config, std::uint64_t revision = 1);

  [[nodiscard]] const config::Config& config() const { return config_; }
  [[nodiscard]] const HostClassifier& hosts() const { return hosts_; }
  [[nodiscard]] const AppTable& apps() const { return hosts_.apps(); }
  // A host's class for a client of `profile`: an app host is `other` unless the profile names
  // the app.
  [[nodiscard]] HostMatch match(std::string_view host, const ProfileRules& profile) const;
  // The default profile's header rules (tenant_restrictions).
  [[nodiscard]] const HeaderRules& headers() const { return profiles_.front().headers; }
  // Every profile, the default first, then config().profiles in order.
  [[nodiscard]] const std::vector<ProfileRules>& profiles() const { return profiles_; }
  [[nodiscard]] const ProfileRules& default_profile() const { return profiles_.front(); }
  // The profile for a client address (first match in config().profiles, else the default).
  [[nodiscard]] const ProfileRules& profile_for(const std::optional<config::IpAddress>& client) const;
  [[nodiscard]] std::uint64_t revision() const { return revision_; }

 private:
  config::Config config_;
  HostClassifier hosts_;
  std::vector<ProfileRules> profiles_;
  std::uint64_t revision_;
};

using PolicyPtr = std::shared_ptr<const Policy>;

// The human summary `trproxy --check` prints: mode, exact header lines per host class and
// their sizes, host classes, listeners.
std::string summarize(const Policy& policy);

}  // namespace trproxy::policy
