#include "policy/config_warnings.hpp"

#include <algorithm>

#include "policy/host_class.hpp"
#include "policy/http_chars.hpp"

namespace trproxy::policy {
namespace {

bool is_example_id(std::string_view id) {
  return std::any_of(documentation_example_ids.begin(), documentation_example_ids.end(),
                     [id](std::string_view example) { return chars::iequals(id, example); });
}

// The same checks for the default (`path` tenant_restrictions) and for each profile.
void warn_example_ids(const config::TenantHeaders& tr, const std::string& path, std::vector<std::string>& out) {
  const auto warn = [&out, &path](const std::string& key, const std::string& id) {
    if (is_example_id(id)) {
      out.push_back(path + "." + key + " " + id +
                    " is an example id from Microsoft's documentation; put your own tenant's ids here");
    }
  };
  if (tr.mode == config::Mode::v2) {
    warn("v2.tenant_id", tr.v2.tenant_id);
    warn("v2.policy_id", tr.v2.policy_id);
    if (chars::iequals(tr.v2.tenant_id, tr.v2.policy_id)) {
      out.push_back(path + ".v2.policy_id equals tenant_id (" + tr.v2.tenant_id +
                    "); the policy id is the id of your cross-tenant access policy, not the tenant id "
                    "(sign-ins then fail with AADSTS1000108)");
    }
  } else {
    for (const auto& tenant : tr.v1.allowed_tenants) warn("v1.allowed_tenants", tenant);
    warn("v1.access_context", tr.v1.access_context);
  }
}

// The documented exclusions win over every list (loader.cpp refuses any other overlap).
void warn_excluded_listed_hosts(const config::Config& config, std::vector<std::string>& out) {
  const HostClassifier hosts(config);
  const auto& tr = config.tenant_restrictions;
  for (const auto& [list, key] :
       {std::pair{&tr.auth_hosts, "tenant_restrictions.auth_hosts"},
        std::pair{&tr.msa_hosts, "tenant_restrictions.msa_hosts"}, std::pair{&config.block, "block"}}) {
    for (const auto& host : *list) {
      if (hosts.classify(host) == HostClass::excluded) {
        out.push_back(std::string(key) + " lists " + host + ", which is excluded: it is tunnelled untouched, never " +
                      (list == &config.block ? "blocked" : "intercepted"));
      }
    }
  }
}

}  // namespace

std::vector<std::string> config_warnings(const config::Config& config) {
  std::vector<std::string> warnings;
  warn_example_ids(config.tenant_restrictions, "tenant_restrictions", warnings);
  for (std::size_t i = 0; i < config.profiles.size(); ++i) {
    warn_example_ids(config.profiles[i], "profiles[" + std::to_string(i) + "]", warnings);
  }
  warn_excluded_listed_hosts(config, warnings);
  return warnings;
}

}  // namespace trproxy::policy
