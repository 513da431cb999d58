#pragma once
// Configs shared by the unit tests.

#include "config/loader.hpp"

#include <string>

namespace trproxy::test {

inline const char* const v2_yaml = R"(
tenant_restrictions:
  v2:
    tenant_id: "aaaabbbb-0000-cccc-1111-dddd2222eeee"
    policy_id: "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5"
block: [onedrive.live.com]
)";

inline const char* const v1_yaml = R"(
tenant_restrictions:
  v1:
    allowed_tenants: [contoso.com, fabrikam.onmicrosoft.com, aaaabbbb-0000-cccc-1111-dddd2222eeee]
    access_context: "bbbbcccc-1111-dddd-2222-eeee3333ffff"
    restrict_msa: true
)";

inline config::Config load_yaml(const std::string& yaml) {
  return config::load_config_text(yaml, "/tmp");
}

// The ConfigError loading `yaml` gives, as the file "trproxy.yaml" (FILE:LINE: included), or
// "(loaded)".
inline std::string config_error(const std::string& yaml) {
  try {
    config::load_config_text(yaml, "/tmp", "trproxy.yaml");
  } catch (const config::ConfigError& error) {
    return error.what();
  }
  return "(loaded)";
}

}  // namespace trproxy::test
