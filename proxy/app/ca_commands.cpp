#include "proxy/app/ca_commands.hpp"

#include <grp.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

#include "config/loader.hpp"
#include "tls/ca.hpp"
#include "tls/ca_description.hpp"

namespace trproxy::proxy {
namespace {

// The sign-in hosts of --config FILE, or the defaults when no file is given.
// The constraints a CA for this config carries: its sign-in and app hosts (the defaults without
// a config).
tls::NameConstraints constraints_for_config(const std::string& config_path) {
  if (!config_path.empty()) {
    const auto config = config::load_config_file(config_path);
    return tls::constraints_for(config.tenant_restrictions, config::app_host_patterns(config));
  }
  config::TenantRestrictions defaults;
  defaults.auth_hosts = config::default_auth_hosts();
  defaults.msa_hosts = config::default_msa_hosts();
  defaults.exclude = config::documented_exclusions();
  return tls::constraints_for(defaults);
}

// --group: a number as it is (a container's GID need not exist on the host), else a group name.
std::optional<gid_t> resolve_group(const std::string& text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (text.size() > 9) return std::nullopt;
    return static_cast<gid_t>(std::stoul(text));
  }
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  return found->gr_gid;
}

}  // namespace

int run_ca_init(const CaInitOptions& options) {
  try {
    tls::CaOptions ca;
    ca.days = options.days;
    ca.common_name = options.common_name;
    ca.constraints = constraints_for_config(options.config_path);
    if (!options.key_group.empty()) {
      ca.key_group = resolve_group(options.key_group);
      if (!ca.key_group) {
        std::cerr << "trproxy: --group \"" << options.key_group << "\" is neither a group name nor a group number\n";
        return exit_config;
      }
    }
    if (ca.constraints.permitted_dns.empty()) {
      std::cerr << "trproxy: " << options.config_path << " intercepts no host (every sign-in host is excluded)\n";
      return exit_config;
    }
    tls::CertificateAuthority::create(options.dir, ca);
    const std::filesystem::path dir(options.dir);
    std::cout << "created " << (dir / "ca.crt").string() << " and " << (dir / "ca.key").string()
              << " (EC P-256, key mode "
              << (ca.key_group ? "0640 group " + std::to_string(*ca.key_group) : std::string("0600")) << ", " << ca.days
              << " days)\n"
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
