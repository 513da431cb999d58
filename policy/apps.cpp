#include "policy/apps.hpp"

#include "config/loader.hpp"
#include "policy/http_chars.hpp"

#include <algorithm>

namespace trproxy::policy {

AppTable::AppTable(const config::Config& config) {
  std::vector<std::string> custom_names;
  config::for_each_app_list(config, [&](const std::vector<config::App>& apps, const std::string&) {
    for (const auto& app : apps) {
      add(app);
      if (!app.custom) continue;
      for (const auto& header : app.headers) custom_names.push_back(header.name);
    }
  });
  if (apps_.size() > max_apps) {
    throw config::ConfigError(
        "apps", "apps: " + std::to_string(apps_.size()) + " apps configured, at most " + std::to_string(max_apps));
  }
  std::stable_sort(suffixes_.begin(), suffixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  custom_fields_ = FieldNames(custom_names);
}

void AppTable::add(const config::App& app) {
  if (find(app.name)) return;  // the loader made sure its hosts are the same
  const auto id = static_cast<AppId>(std::min<std::size_t>(apps_.size(), no_app - 1));
  AppRule rule{app.name, app.custom, app.hosts, config::BlockSignal::none, {}, {}};
  if (const auto* spec = config::find_builtin_app(app.name); spec != nullptr && !app.custom) {
    rule.block = spec->block;
    rule.block_marker = spec->block_marker;
    rule.source = spec->source;
  }
  for (const auto& host : app.hosts) {
    if (host.rfind("*.", 0) == 0) {
      suffixes_.emplace_back(host.substr(1), id);
    } else {
      exact_.emplace_back(host, id);
    }
  }
  apps_.push_back(std::move(rule));
}

std::optional<AppId> AppTable::app_of(std::string_view host) const {
  for (const auto& [name, id] : exact_) {
    if (chars::iequals(host, name)) return id;
  }
  for (const auto& [suffix, id] : suffixes_) {
    if (host.size() > suffix.size() && chars::iequals(host.substr(host.size() - suffix.size()), suffix)) return id;
  }
  return std::nullopt;
}

std::optional<AppId> AppTable::find(std::string_view name) const {
  for (std::size_t i = 0; i < apps_.size(); ++i) {
    if (apps_[i].name == name) return static_cast<AppId>(i);
  }
  return std::nullopt;
}

}  // namespace trproxy::policy
