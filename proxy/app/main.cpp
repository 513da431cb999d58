// trproxy: a forward proxy that enforces Microsoft Entra tenant restrictions.
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config (DESIGN.md).

#include "config/loader.hpp"
#include "policy/explain.hpp"
#include "policy/policy.hpp"
#include "policy/sign_in_aliases.hpp"
#include "proxy/app/ca_commands.hpp"
#include "proxy/app/cli.hpp"
#include "proxy/app/probe.hpp"
#include "proxy/observe/operational_log.hpp"
#include "proxy/observe/version.hpp"
#include "proxy/server/server.hpp"
#include "proxy/worker/runtime.hpp"
#include "tls/ca.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

namespace {

using namespace trproxy;

using proxy::exit_config;
using proxy::exit_ok;
using proxy::exit_runtime;

// Offline: the config only (no CA, no sockets), and the decision core's answer.
int explain(const proxy::Command& command) {
  try {
    const policy::Policy policy(config::load_config_file(command.config_path));
    std::optional<config::IpAddress> client;
    if (!command.explain_client.empty()) {
      client = config::parse_ip(command.explain_client);
      if (!client) {
        std::cerr << "trproxy: --client \"" << command.explain_client << "\" is not an IP address\n";
        return exit_config;
      }
    }
    const auto answer = command.explain_transparent
                            ? policy::explain_transparent(policy, client, command.explain_target, command.explain_sni)
                            : policy::explain(policy, client, command.explain_target);
    if (const auto* error = std::get_if<policy::ExplainError>(&answer)) {
      std::cerr << "trproxy: explain " << command.explain_target << ": " << error->message << "\n";
      return exit_config;
    }
    std::cout << std::get<std::string>(answer);
    return exit_ok;
  } catch (const config::ConfigError& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  }
}

int run(const proxy::Command& command) {
  using Kind = proxy::Command::Kind;
  switch (command.kind) {
    case Kind::version: std::cout << proxy::version_text(); return exit_ok;
    case Kind::help: std::cout << proxy::usage_text(); return exit_ok;
    case Kind::ca_init: return proxy::run_ca_init(command.ca_init);
    case Kind::ca_show: return proxy::run_ca_show(command.ca_show_file);
    case Kind::explain: return explain(command);
    case Kind::probe: return proxy::run_probe(command.probe_url, std::chrono::seconds(command.probe_timeout_seconds));
    case Kind::check:
    case Kind::run: break;
  }

  proxy::RuntimePtr runtime;
  try {
    auto config = config::load_config_file(command.config_path);
    if (command.kind == Kind::run) spdlog::set_level(static_cast<spdlog::level::level_enum>(config.log.level));
    // --check builds exactly what a start builds (the CA and key included), so it fails
    // wherever a start would.
    runtime = proxy::build_runtime(std::move(config), nullptr);
    proxy::premint_sign_in_hosts(*runtime);
    if (command.kind == Kind::check) {
      std::cout << policy::summarize(*runtime->policy);
      std::cout << policy::describe_sign_in_aliases(*runtime->policy);
      for (const auto& warning : runtime->warnings) std::cout << "warning: " << warning << "\n";
      return exit_ok;
    }
    for (const auto& warning : runtime->warnings) spdlog::warn("{}", warning);
  } catch (const config::ConfigError& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  } catch (const tls::TlsError& error) {  // CaError included: both name the file or key
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  }
  try {
    return proxy::run_server(command.config_path, std::move(runtime));
  } catch (const std::exception& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_runtime;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  proxy::setup_operational_log();
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto parsed = proxy::parse_command_line(args);
  if (const auto* error = std::get_if<proxy::CliError>(&parsed)) {
    std::cerr << "trproxy: " << error->message << "\n";
    return exit_config;
  }
  return run(std::get<proxy::Command>(parsed));
}
