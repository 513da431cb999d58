#pragma once
// Reads trproxy's YAML into a validated Config. Every failure is one ConfigError whose
// message names the key path and the offending value, e.g.
//   tenant_restrictions.v2.tenant_id: "abc" is not a GUID

#include "config/config.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace trproxy::config {

// An error that comes from a place in the file starts with "FILE:LINE: " (DESIGN.md), e.g.
//   /etc/trproxy/trproxy.yaml:7: tenant_restrictions.v2.tenant_id: "abc" is not a GUID
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ConfigError(std::string key_path, const std::string& message)
      : std::runtime_error(message), key_path_(std::move(key_path)) {}
  // The key path the message names ("" when it names none), used to find its line.
  [[nodiscard]] const std::string& key_path() const { return key_path_; }

 private:
  std::string key_path_;
};

// Loads a file; relative paths inside it are resolved against the file's folder. Errors start
// with the file name as given and the line.
Config load_config_file(const std::filesystem::path& file);

// Loads YAML text; relative paths are resolved against base_dir. Errors start with
// "SOURCE_NAME:LINE: " when source_name is given.
Config load_config_text(std::string_view yaml, const std::filesystem::path& base_dir,
                        const std::string& source_name = "");

}  // namespace trproxy::config
