#include "policy/app_fields.hpp"

#include "config/app_catalog.hpp"
#include "config/app_values.hpp"
#include "policy/http_chars.hpp"

#include <algorithm>

namespace trproxy::policy {

bool names_field(std::string_view name, std::string_view lower_folded) {
  if (name.size() != lower_folded.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i] == '_' ? '-' : name[i];
    if (chars::lower(c) != lower_folded[i]) return false;
  }
  return true;
}

FieldNames::FieldNames(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    auto f = config::folded_field_name(name);
    if (f.size() >= 64 || std::find(names_.begin(), names_.end(), f) != names_.end()) continue;
    lengths_ |= std::uint64_t{1} << f.size();
    names_.push_back(std::move(f));
  }
}

bool FieldNames::contains_slow(std::string_view name) const {
  return std::any_of(names_.begin(), names_.end(), [&](const std::string& f) { return names_field(name, f); });
}

const FieldNames& builtin_app_fields() {
  // Built once from constant data, read-only afterwards.
  static const FieldNames names = [] {
    std::vector<std::string> all;
    for (const auto& app : config::builtin_apps()) {
      for (const auto& header : app.headers) all.emplace_back(header.name);
    }
    return FieldNames(all);
  }();
  return names;
}

}  // namespace trproxy::policy
