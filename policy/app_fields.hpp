#pragma once
// Which request fields are an app's tenant header (DESIGN.md, "Tenant control for other SaaS
// apps"): a client's copy is stripped in any case, any count, and in its '_' spelling, like the
// Entra headers. The built-in apps' names are fixed; apps.custom names come with the config.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::policy {

// A set of field names, matched ASCII case-insensitively with '_' read as '-'. A bitmask of the
// names' lengths answers most lookups without a comparison.
class FieldNames {
 public:
  FieldNames() = default;
  explicit FieldNames(const std::vector<std::string>& names);

  [[nodiscard]] bool contains(std::string_view name) const {
    return name.size() < 64 && (lengths_ >> name.size() & 1U) != 0 && contains_slow(name);
  }
  [[nodiscard]] bool empty() const { return names_.empty(); }

 private:
  [[nodiscard]] bool contains_slow(std::string_view name) const;

  std::vector<std::string> names_;  // lower case, '-' for '_'
  std::uint64_t lengths_ = 0;
};

// The header names of every built-in app (config/app_catalog.hpp).
const FieldNames& builtin_app_fields();

// True when `name` names the same field as `folded` (lower case, '-'), '_' read as '-'.
bool names_field(std::string_view name, std::string_view folded);

}  // namespace trproxy::policy
