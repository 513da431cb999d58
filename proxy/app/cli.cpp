#include "proxy/app/cli.hpp"

#include <algorithm>

#include "tls/ca.hpp"

namespace trproxy::proxy {
namespace {

const char* const ca_init_usage =
    "usage: trproxy ca init --dir DIR [--config FILE] [--days N] [--cn NAME] [--group GROUP]";
const char* const ca_show_usage = "usage: trproxy ca show FILE";

std::optional<int> parse_days(const std::string& text) {
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int days = std::stoi(text);
  if (days < 1 || days > tls::max_ca_days) return std::nullopt;
  return days;
}

// `ca init` options in any order, each "--key VALUE" or "--key=VALUE".
std::variant<Command, CliError> parse_ca_init(const std::vector<std::string>& args) {
  Command command;
  command.kind = Command::Kind::ca_init;
  auto& options = command.ca_init;
  for (std::size_t i = 2; i < args.size(); ++i) {
    std::string key = args[i];
    std::string value;
    if (const auto eq = key.find('='); key.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return CliError{std::string(ca_init_usage) + " (" + key + " needs a value)"};
    }
    if (value.empty()) return CliError{std::string(ca_init_usage) + " (" + key + " needs a value)"};
    if (key == "--dir") {
      options.dir = value;
    } else if (key == "--config" || key == "-c") {
      options.config_path = value;
    } else if (key == "--cn") {
      options.common_name = value;
    } else if (key == "--group") {
      options.key_group = value;
    } else if (key == "--days") {
      const auto days = parse_days(value);
      if (!days)
        return CliError{"--days \"" + value + "\" is not a whole number of days in 1.." +
                        std::to_string(tls::max_ca_days)};
      options.days = *days;
    } else {
      return CliError{std::string(ca_init_usage) + " (unknown argument '" + key + "')"};
    }
  }
  if (options.dir.empty()) return CliError{ca_init_usage};
  return command;
}

std::variant<Command, CliError> parse_ca(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "init") return parse_ca_init(args);
  if (args.size() >= 2 && args[1] == "show") {
    if (args.size() != 3 || args[2].empty()) return CliError{ca_show_usage};
    Command command;
    command.kind = Command::Kind::ca_show;
    command.ca_show_file = args[2];
    return command;
  }
  return CliError{std::string(ca_init_usage) + " | " + ca_show_usage};
}

}  // namespace

std::string usage_text() {
  return "usage:\n"
         "  trproxy --config FILE            run (default FILE: config/trproxy.yaml)\n"
         "  trproxy --config FILE --check    validate the config and load the CA as a start does, print a\n"
         "                                   summary, what happens to the other sign-in names, and warnings\n"
         "  trproxy ca init --dir DIR [--config FILE] [--days N] [--cn NAME] [--group GROUP]\n"
         "                                   create ca.crt + ca.key (EC P-256) in DIR, never overwriting;\n"
         "                                   name-constrained to the intercepted hosts of FILE (default: the\n"
         "                                   four default sign-in hosts), no IP addresses; N days (default\n"
         "                                   3650, at most 36500); NAME as the common name; the key is 0600,\n"
         "                                   or 0640 with group GROUP (a name or number, e.g. the container\n"
         "                                   user's 10001) so the service user can read it\n"
         "  trproxy ca show FILE             print a CA certificate: subject, SHA-256 fingerprint, not-after,\n"
         "                                   key type, name constraints\n"
         "  trproxy explain [--config FILE] [--client IP] TARGET\n"
         "  trproxy explain [--config FILE] [--client IP] --transparent [--sni NAME] ADDRESS:PORT\n"
         "                                   what the policy does with TARGET (https://host/path,\n"
         "                                   http://host/path or host[:port]) for that client, offline\n"
         "  trproxy probe URL [--timeout S]  GET an admin URL (http://127.0.0.1:9090/readyz): exit 0 on a 200,\n"
         "                                   else 1 with a one-line reason (health checks that need no curl)\n"
         "  trproxy --version | --help\n"
         "exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config\n"
         "signals:\n"
         "  SIGHUP                           reload the config and the CA (an invalid one is rejected, the\n"
         "                                   running one stays)\n"
         "  SIGTERM, SIGINT                  drain: /readyz 503, keep accepting for limits.drain_delay, then\n"
         "                                   up to limits.shutdown_grace for open requests; exit 0\n"
         "environment:\n"
         "  NOTIFY_SOCKET                    systemd Type=notify: READY=1 once listening with the CA loaded,\n"
         "                                   RELOADING=1/READY=1 around a reload, STOPPING=1 on SIGTERM\n";
}

namespace {

std::variant<Command, CliError> parse_explain(const std::vector<std::string>& args) {
  Command command;
  command.kind = Command::Kind::explain;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& arg = args[i];
    if ((arg == "--config" || arg == "-c" || arg == "--client" || arg == "--sni") &&
        (i + 1 >= args.size() || args[i + 1].empty())) {
      return CliError{arg + " needs a value"};
    }
    if (arg == "--config" || arg == "-c") {
      command.config_path = args[++i];
    } else if (arg == "--client") {
      command.explain_client = args[++i];
    } else if (arg == "--transparent") {
      command.explain_transparent = true;
    } else if (arg == "--sni") {
      command.explain_sni = args[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      return CliError{"unknown argument '" + arg + "' (usage: trproxy explain [--config FILE] [--client IP] TARGET)"};
    } else if (command.explain_target.empty()) {
      command.explain_target = arg;
    } else {
      return CliError{"explain takes one TARGET"};
    }
  }
  if (command.explain_target.empty()) return CliError{"usage: trproxy explain [--config FILE] [--client IP] TARGET"};
  if (command.explain_sni && !command.explain_transparent) return CliError{"--sni goes with --transparent"};
  return command;
}

constexpr const char* probe_usage = "usage: trproxy probe http://HOST:PORT/PATH [--timeout SECONDS]";

std::variant<Command, CliError> parse_probe(const std::vector<std::string>& args) {
  Command command;
  command.kind = Command::Kind::probe;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--timeout") {
      if (i + 1 >= args.size()) return CliError{"--timeout needs SECONDS"};
      const auto& value = args[++i];
      const bool digits =
          !value.empty() && value.size() <= 3 && value.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(value) < 1 || std::stoi(value) > 300) {
        return CliError{"--timeout \"" + value + "\" is not a whole number of seconds from 1 to 300"};
      }
      command.probe_timeout_seconds = std::stoi(value);
    } else if (!arg.empty() && arg[0] == '-') {
      return CliError{"unknown argument '" + arg + "' (" + probe_usage + ")"};
    } else if (command.probe_url.empty()) {
      // The admin endpoint speaks plain HTTP on a local address; nothing else is probed.
      if (arg.rfind("http://", 0) != 0)
        return CliError{"probe URL \"" + arg + "\" is not http:// (" + probe_usage + ")"};
      command.probe_url = arg;
    } else {
      return CliError{"probe takes one URL"};
    }
  }
  if (command.probe_url.empty()) return CliError{probe_usage};
  return command;
}

}  // namespace

std::variant<Command, CliError> parse_command_line(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "explain") return parse_explain(args);
  if (!args.empty() && args[0] == "probe") return parse_probe(args);
  Command command;
  if (!args.empty() && args[0] == "ca") return parse_ca(args);
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
