#pragma once
// What a loaded CA must satisfy for a configuration, and what merely deserves a warning
// (DESIGN.md, "Command line": start, reload and --check all apply these).

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tls/ca.hpp"

namespace trproxy::tls {

// A CA this close to its end gets a warning: clients will soon refuse every minted leaf.
inline constexpr std::time_t ca_expiry_warning_seconds = 30L * 24 * 3600;

// Throws CaError naming the first intercepted (auth or MSA) host that the CA's name
// constraints do not permit: every leaf minted for it would be refused by clients that
// enforce them. A CA without name constraints passes (see ca_warnings).
void require_permits_intercepted_hosts(const CertificateAuthority& ca, const std::filesystem::path& cert_file,
                                       const config::TenantRestrictions& tenant_restrictions,
                                       const std::vector<std::string>& app_hosts = {});

// Warnings (one line each, no prefix) about a CA that loads: no name constraints on DNS
// names, or an end of validity within ca_expiry_warning_seconds of `now`.
std::vector<std::string> ca_warnings(const CertificateAuthority& ca, const std::filesystem::path& cert_file,
                                     std::time_t now);

}  // namespace trproxy::tls
