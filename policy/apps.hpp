#pragma once
// The SaaS apps of one Config, numbered (DESIGN.md, "Tenant control for other SaaS apps"):
// every app the top level or a profile names, once by name (an app's hosts are the same
// everywhere, config/apps.hpp), with what the decisions and the observers need of it.

#include "config/app_catalog.hpp"
#include "config/config.hpp"
#include "policy/app_fields.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::policy {

using AppId = std::uint8_t;
inline constexpr AppId no_app = 0xff;
// Apps one Config may name (AppId is a byte; no_app is reserved).
inline constexpr std::size_t max_apps = 200;

struct AppRule {
  std::string name;
  bool custom = false;
  std::vector<std::string> hosts;
  config::BlockSignal block = config::BlockSignal::none;
  std::string block_marker;
  std::string source;  // the vendor's documentation ("" for a custom app)
};

class AppTable {
 public:
  AppTable() = default;
  // Throws config::ConfigError when the config names more than max_apps apps.
  explicit AppTable(const config::Config& config);

  // The app whose hosts cover `host` (normalised): an exact name first, else the longest
  // matching wildcard. `host` is plain ASCII (HostClassifier checked it).
  [[nodiscard]] std::optional<AppId> app_of(std::string_view host) const;
  // The app called `name`, if the config names it.
  [[nodiscard]] std::optional<AppId> find(std::string_view name) const;

  [[nodiscard]] const AppRule& operator[](AppId id) const { return apps_[id]; }
  [[nodiscard]] std::size_t size() const { return apps_.size(); }
  [[nodiscard]] bool empty() const { return apps_.empty(); }
  [[nodiscard]] const std::vector<AppRule>& all() const { return apps_; }
  // The header names of the custom apps, which the scanner strips like the built-in ones; null
  // when the config has none (ScanLimits, BodyTracker and classify_field take it so).
  [[nodiscard]] const FieldNames* custom_fields() const { return custom_fields_.empty() ? nullptr : &custom_fields_; }

 private:
  void add(const config::App& app);

  std::vector<AppRule> apps_;
  std::vector<std::pair<std::string, AppId>> exact_;
  std::vector<std::pair<std::string, AppId>> suffixes_;  // ".suffix" of "*.suffix", longest first
  FieldNames custom_fields_;
};

}  // namespace trproxy::policy
