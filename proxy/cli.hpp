#pragma once
// Command-line parsing (DESIGN.md, "Command line"). Pure: argv in, a Command out.

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace trproxy::proxy {

struct Command {
  enum class Kind { run, check, ca_init, explain, version, help } kind = Kind::run;
  std::string config_path = "config/trproxy.yaml";
  std::string ca_dir;
  std::string explain_target;  // explain: the URL or host[:port]
  std::string explain_client;  // explain: --client IP, "" when not given
};

struct CliError {
  std::string message;
};

// Returns the command, or a one-line usage error (exit code 2).
std::variant<Command, CliError> parse_command_line(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace trproxy::proxy
