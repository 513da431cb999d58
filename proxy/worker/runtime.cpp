#include "proxy/worker/runtime.hpp"

#include "policy/config_warnings.hpp"
#include "tls/ca_checks.hpp"

#include <ctime>

namespace trproxy::proxy {

RuntimePtr build_runtime(config::Config config, const Runtime* previous) {
  auto runtime = std::make_shared<Runtime>();
  const auto revision = previous ? previous->policy->revision() + 1 : 1;
  runtime->policy = std::make_shared<const policy::Policy>(std::move(config), revision);
  const auto& c = runtime->policy->config();
  auto ca = std::make_shared<const tls::CertificateAuthority>(tls::CertificateAuthority::load(c.ca.cert, c.ca.key));
  tls::require_permits_intercepted_hosts(*ca, c.ca.cert, c.tenant_restrictions, config::app_host_patterns(c));
  runtime->warnings = policy::config_warnings(c);
  for (auto& warning : tls::ca_warnings(*ca, c.ca.cert, std::time(nullptr))) {
    runtime->warnings.push_back(std::move(warning));
  }
  if (previous && previous->leaves->ca().fingerprint() == ca->fingerprint() &&
      previous->leaves->key_type() == c.ca.leaf_key) {
    runtime->leaves = previous->leaves;
  } else {
    runtime->leaves = std::make_shared<tls::LeafCache>(ca, c.ca.leaf_key);
  }
  runtime->server_tls = previous ? previous->server_tls : std::make_shared<const tls::ServerTls>();
  runtime->upstream_tls = std::make_shared<tls::UpstreamTls>(c.upstream);
  runtime->config_sha256 = tls::sha256_hex(c.source_text);
  if (!c.tls.ticket_keys.empty()) {
    runtime->ticket_keys =
        std::make_shared<const std::vector<tls::TicketKey>>(tls::load_ticket_keys(c.tls.ticket_keys));
  }
  return runtime;
}

void apply_ticket_keys(const Runtime& runtime) {
  auto& keys = runtime.server_tls->ticket_keys();
  if (runtime.ticket_keys) {
    keys.install(*runtime.ticket_keys);
  } else if (keys.from_file()) {
    keys.use_generated();
  }
}

void premint_sign_in_hosts(const Runtime& runtime) {
  const auto& tr = runtime.config().tenant_restrictions;
  for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts}) {
    for (const auto& host : *list) runtime.leaves->get(host);
  }
}

}  // namespace trproxy::proxy
