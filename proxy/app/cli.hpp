#pragma once
// Command-line parsing (DESIGN.md, "Command line"). Pure: argv in, a Command out.

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace trproxy::proxy {

inline constexpr int exit_ok = 0;
inline constexpr int exit_runtime = 1;
inline constexpr int exit_config = 2;  // bad usage or bad config

struct CaInitOptions {
  std::string dir;
  std::string config_path;  // "" = the default sign-in hosts
  int days = 3650;
  std::string common_name;  // "" = the default name
  std::string key_group;    // --group: a group name or number; "" = key mode 0600, the caller's group
};

struct Command {
  enum class Kind { run, check, ca_init, ca_show, explain, probe, version, help } kind = Kind::run;
  std::string config_path = "config/trproxy.yaml";
  CaInitOptions ca_init;
  std::string ca_show_file;
  std::string explain_target;              // explain: the URL or host[:port]
  std::string explain_client;              // explain: --client IP, "" when not given
  bool explain_transparent = false;        // explain --transparent: TARGET is an original destination
  std::optional<std::string> explain_sni;  // explain --sni NAME (with --transparent)
  std::string probe_url;                   // probe: http://host:port/path of the admin endpoint
  int probe_timeout_seconds = 5;
};

struct CliError {
  std::string message;
};

// Returns the command, or a one-line usage error (exit code 2).
std::variant<Command, CliError> parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace trproxy::proxy
