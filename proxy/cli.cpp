#include "proxy/cli.hpp"

namespace trproxy::proxy {

std::string usage_text() {
  return "usage:\n"
         "  trproxy --config FILE            run (default FILE: config/trproxy.yaml)\n"
         "  trproxy --config FILE --check    validate the config, print a summary, exit\n"
         "  trproxy ca init --dir DIR        create ca.crt + ca.key (EC P-256) in DIR; never overwrites\n"
         "  trproxy --version | --help\n"
         "exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config\n";
}

std::variant<Command, CliError> parse_command_line(const std::vector<std::string>& args) {
  Command command;
  if (!args.empty() && args[0] == "ca") {
    if (args.size() != 4 || args[1] != "init" || args[2] != "--dir" || args[3].empty()) {
      return CliError{"usage: trproxy ca init --dir DIR"};
    }
    command.kind = Command::Kind::ca_init;
    command.ca_dir = args[3];
    return command;
  }
  bool check = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--version" || arg == "-V") {
      command.kind = Command::Kind::version;
      return command;
    }
    if (arg == "--help" || arg == "-h") {
      command.kind = Command::Kind::help;
      return command;
    }
    if (arg == "--check") {
      check = true;
    } else if (arg == "--config" || arg == "-c") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return CliError{"--config needs a FILE"};
      }
      command.config_path = args[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      command.config_path = arg.substr(9);
    } else {
      return CliError{"unknown argument '" + arg + "' (try --help)"};
    }
  }
  command.kind = check ? Command::Kind::check : Command::Kind::run;
  return command;
}

}  // namespace trproxy::proxy
