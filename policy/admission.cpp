#include "policy/admission.hpp"

#include <algorithm>

namespace trproxy::policy {

const char* to_string(AdmissionRefusal reason) {
  switch (reason) {
    case AdmissionRefusal::not_allowed: return "not_allowed";
    case AdmissionRefusal::max_connections: return "max_connections";
    case AdmissionRefusal::per_client: return "per_client";
    case AdmissionRefusal::count: break;
  }
  return "unknown";
}

bool client_allowed(const config::Config& config, const config::IpAddress& client) {
  return std::any_of(config.clients_allow.begin(), config.clients_allow.end(),
                     [&](const config::Cidr& cidr) { return cidr.contains(client); });
}

std::optional<AdmissionRefusal> admit_client(const config::Config& config, const config::IpAddress& client,
                                             ClientLoad load) {
  if (!client_allowed(config, client)) return AdmissionRefusal::not_allowed;
  // The client's own share first: when one address fills the proxy, it is that address that is
  // told, and the refusal names the key an operator would raise for it.
  if (load.this_client > config.limits.max_connections_per_client) return AdmissionRefusal::per_client;
  if (load.all_clients > config.limits.max_connections) return AdmissionRefusal::max_connections;
  return std::nullopt;
}

Refusal admission_refusal(AdmissionRefusal reason) {
  switch (reason) {
    case AdmissionRefusal::not_allowed: return {403, Action::deny, "client address not allowed"};
    case AdmissionRefusal::max_connections: return {503, Action::deny, "too many connections (limits.max_connections)"};
    case AdmissionRefusal::per_client:
    case AdmissionRefusal::count: break;
  }
  return {503, Action::deny, "too many connections from this client address (limits.max_connections_per_client)"};
}

}  // namespace trproxy::policy
