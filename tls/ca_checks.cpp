#include "tls/ca_checks.hpp"

#include <algorithm>

#include "config/syntax.hpp"

namespace trproxy::tls {

void require_permits_intercepted_hosts(const CertificateAuthority& ca, const std::filesystem::path& cert_file,
                                       const config::TenantRestrictions& tenant_restrictions,
                                       const std::vector<std::string>& app_hosts) {
  const auto& constraints = ca.name_constraints();
  if (!constraints) return;
  for (const auto& pattern : app_hosts) {
    // A wildcard's subtree itself stands for every name under it.
    const auto verdict = check_dns_name(*constraints, subtree_of(pattern));
    if (verdict != DnsVerdict::permitted) {
      throw CaError("ca.cert " + cert_file.string() + ": its name constraints do not permit " + pattern +
                    " (an app host, " + to_string(verdict) +
                    "), so clients would refuse its certificate; make a CA for this config with "
                    "`trproxy ca init --config`");
    }
  }
  for (const auto& host : config::intercepted_hosts(tenant_restrictions)) {
    const auto verdict = check_dns_name(*constraints, host);
    if (verdict != DnsVerdict::permitted) {
      const bool msa = std::find(tenant_restrictions.msa_hosts.begin(), tenant_restrictions.msa_hosts.end(), host) !=
                       tenant_restrictions.msa_hosts.end();
      throw CaError("ca.cert " + cert_file.string() + ": its name constraints do not permit " + host + " (" +
                    (msa ? "an MSA host" : "an auth host") + ", " + to_string(verdict) +
                    "), so clients would refuse its certificate; make a CA for this config with "
                    "`trproxy ca init --config`");
    }
  }
}

std::vector<std::string> ca_warnings(const CertificateAuthority& ca, const std::filesystem::path& cert_file,
                                     std::time_t now) {
  std::vector<std::string> warnings;
  const auto& constraints = ca.name_constraints();
  if (!constraints || !limits_dns_names(*constraints)) {
    warnings.push_back("ca.cert " + cert_file.string() +
                       " has no name constraints limiting DNS names: it can vouch for any host, so a leaked key "
                       "impersonates every site to every client that trusts it (make one with `trproxy ca init`)");
  }
  if (ca.not_after() - now < ca_expiry_warning_seconds) {
    warnings.push_back("ca.cert " + cert_file.string() + " expires " + config::rfc3339_utc(ca.not_after()) +
                       ", within 30 days: clients will then refuse every minted certificate");
  }
  return warnings;
}

}  // namespace trproxy::tls
