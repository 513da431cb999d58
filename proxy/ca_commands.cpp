#include "proxy/ca_commands.hpp"

#include <filesystem>
#include <iostream>

#include "config/loader.hpp"
#include "tls/ca.hpp"
#include "tls/ca_description.hpp"

namespace trproxy::proxy {
namespace {

// The sign-in hosts of --config FILE, or the defaults when no file is given.
config::TenantRestrictions sign_in_hosts_for(const std::string& config_path) {
  if (!config_path.empty()) return config::load_config_file(config_path).tenant_restrictions;
  config::TenantRestrictions defaults;
  defaults.auth_hosts = config::default_auth_hosts();
  defaults.msa_hosts = config::default_msa_hosts();
  defaults.exclude = config::documented_exclusions();
  return defaults;
}

}  // namespace

int run_ca_init(const CaInitOptions& options) {
  try {
    tls::CaOptions ca;
    ca.days = options.days;
    ca.common_name = options.common_name;
    ca.constraints = tls::constraints_for(sign_in_hosts_for(options.config_path));
    if (ca.constraints.permitted_dns.empty()) {
      std::cerr << "trproxy: " << options.config_path << " intercepts no host (every sign-in host is excluded)\n";
      return exit_config;
    }
    tls::CertificateAuthority::create(options.dir, ca);
    const std::filesystem::path dir(options.dir);
    std::cout << "created " << (dir / "ca.crt").string() << " and " << (dir / "ca.key").string()
              << " (EC P-256, key mode 0600, " << ca.days << " days)\n"
              << "permitted: " << tls::describe_subtrees(ca.constraints, true) << "\n"
              << "excluded: " << tls::describe_subtrees(ca.constraints, false) << "\n";
    return exit_ok;
  } catch (const config::ConfigError& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  } catch (const tls::CaError& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  } catch (const std::exception& error) {
    std::cerr << "trproxy: ca init failed: " << error.what() << "\n";
    return exit_runtime;
  }
}

int run_ca_show(const std::string& file) {
  try {
    std::cout << tls::describe_ca_certificate(file);
    return exit_ok;
  } catch (const tls::CaError& error) {
    std::cerr << "trproxy: " << error.what() << "\n";
    return exit_config;
  } catch (const std::exception& error) {
    std::cerr << "trproxy: ca show " << file << ": " << error.what() << "\n";
    return exit_config;
  }
}

}  // namespace trproxy::proxy
