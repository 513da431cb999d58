#pragma once
// Reads trproxy's YAML into a validated Config. Every failure is one ConfigError whose
// message names the key path and the offending value, e.g.
//   tenant_restrictions.v2.tenant_id: "abc" is not a GUID

#include "config/config.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace trproxy::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads a file; relative paths inside it are resolved against the file's folder.
Config load_config_file(const std::filesystem::path& file);

// Loads YAML text; relative paths are resolved against base_dir.
Config load_config_text(std::string_view yaml, const std::filesystem::path& base_dir);

}  // namespace trproxy::config
