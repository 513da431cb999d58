#include "proxy/cli.hpp"

namespace trproxy::proxy {

std::string usage_text() {
  return "usage:\n"
         "  trproxy --config FILE            run (default FILE: config/trproxy.yaml)\n"
         "  trproxy --config FILE --check    validate the config, print a summary, exit\n"
         "  trproxy ca init --dir DIR        create ca.crt + ca.key (EC P-256) in DIR; never overwrites\n"
         "  trproxy explain [--config FILE] [--client IP] TARGET\n"
         "                                   what the policy does with TARGET (https://host/path,\n"
         "                                   http://host/path or host[:port]) for that client, offline\n"
         "  trproxy --version | --help\n"
         "exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config\n";
}

namespace {

std::variant<Command, CliError> parse_explain(const std::vector<std::string>& args) {
  Command command;
  command.kind = Command::Kind::explain;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& arg = args[i];
    if ((arg == "--config" || arg == "-c" || arg == "--client") && (i + 1 >= args.size() || args[i + 1].empty())) {
      return CliError{arg + " needs a value"};
    }
    if (arg == "--config" || arg == "-c") {
      command.config_path = args[++i];
    } else if (arg == "--client") {
      command.explain_client = args[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      return CliError{"unknown argument '" + arg + "' (usage: trproxy explain [--config FILE] [--client IP] TARGET)"};
    } else if (command.explain_target.empty()) {
      command.explain_target = arg;
    } else {
      return CliError{"explain takes one TARGET"};
    }
  }
  if (command.explain_target.empty()) return CliError{"usage: trproxy explain [--config FILE] [--client IP] TARGET"};
  return command;
}

}  // namespace

std::variant<Command, CliError> parse_command_line(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "explain") return parse_explain(args);
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
