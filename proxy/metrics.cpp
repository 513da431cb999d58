#include "proxy/metrics.hpp"

#include <sstream>

namespace trproxy::proxy {

void Metrics::observe_upstream_latency(double seconds) {
  std::size_t i = 0;
  while (i < latency_buckets.size() && seconds > latency_buckets[i]) ++i;
  upstream_latency[i].add();
  upstream_latency_sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string Metrics::render(const BuildInfo& info) const {
  std::ostringstream out;
  auto header = [&](const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  header("trproxy_build_info", "gauge", "Version and tenant-restrictions mode of the running process.");
  out << "trproxy_build_info{version=\"" << info.version << "\",mode=\"" << info.mode << "\"} 1\n";
  header("trproxy_ready", "gauge", "1 when the listener is up and the CA is loaded, 0 while draining.");
  out << "trproxy_ready " << (info.ready ? 1 : 0) << '\n';
  header("trproxy_connections_total", "counter", "Client connections and requests by action.");
  for (std::size_t i = 0; i < connections.size(); ++i) {
    out << "trproxy_connections_total{action=\"" << to_string(static_cast<Action>(i)) << "\"} " << connections[i].get()
        << '\n';
  }
  header("trproxy_active_connections", "gauge", "Client connections currently open.");
  out << "trproxy_active_connections " << active_connections.load(std::memory_order_relaxed) << '\n';
  header("trproxy_requests_rewritten_total", "counter", "Intercepted requests with tenant-restriction headers set.");
  out << "trproxy_requests_rewritten_total{host_class=\"auth\",mode=\"v1\"} " << rewritten_auth_v1.get() << '\n';
  out << "trproxy_requests_rewritten_total{host_class=\"auth\",mode=\"v2\"} " << rewritten_auth_v2.get() << '\n';
  out << "trproxy_requests_rewritten_total{host_class=\"msa\",mode=\"v1\"} " << rewritten_msa_v1.get() << '\n';
  out << "trproxy_requests_rewritten_total{host_class=\"msa\",mode=\"v2\"} " << rewritten_msa_v2.get() << '\n';
  header("trproxy_client_tenant_headers_stripped_total", "counter",
         "Client-supplied tenant-restriction headers removed (spoofing attempts).");
  out << "trproxy_client_tenant_headers_stripped_total " << spoofed_headers_stripped.get() << '\n';
  header("trproxy_requests_refused_total", "counter", "Requests refused by trproxy, by HTTP status.");
  for (std::size_t status = 0; status < refused_by_status.size(); ++status) {
    if (const auto n = refused_by_status[status].get()) {
      out << "trproxy_requests_refused_total{status=\"" << status << "\"} " << n << '\n';
    }
  }
  header("trproxy_upstream_failures_total", "counter", "Upstream failures by kind.");
  const char* kinds[] = {"connect", "timeout", "tls_verify", "tls_other"};
  for (std::size_t i = 0; i < upstream_failures.size(); ++i) {
    out << "trproxy_upstream_failures_total{kind=\"" << kinds[i] << "\"} " << upstream_failures[i].get() << '\n';
  }
  header("trproxy_leaf_certificates_minted_total", "counter", "Leaf certificates minted from the internal CA.");
  out << "trproxy_leaf_certificates_minted_total " << info.certs_minted << '\n';
  header("trproxy_leaf_certificate_cache_hits_total", "counter", "Leaf certificate cache hits.");
  out << "trproxy_leaf_certificate_cache_hits_total " << info.cert_cache_hits << '\n';
  header("trproxy_client_tls_handshakes_total", "counter", "Completed client-side TLS handshakes.");
  out << "trproxy_client_tls_handshakes_total " << tls_handshakes.get() << '\n';
  header("trproxy_client_tls_resumptions_total", "counter", "Client-side TLS handshakes that resumed a session.");
  out << "trproxy_client_tls_resumptions_total " << tls_resumptions.get() << '\n';
  header("trproxy_client_tls_handshake_failures_total", "counter",
         "Client-side TLS handshakes that failed, by reason (the alert the client sent, e.g. unknown_ca).");
  for (const auto reason : tls::all_handshake_failures()) {
    out << "trproxy_client_tls_handshake_failures_total{reason=\"" << tls::to_string(reason) << "\"} "
        << tls_handshake_failures[static_cast<std::size_t>(reason)].get() << '\n';
  }
  header("trproxy_upstream_tls_handshakes_total", "counter", "Completed upstream TLS handshakes (verified).");
  out << "trproxy_upstream_tls_handshakes_total " << upstream_tls_handshakes.get() << '\n';
  header("trproxy_upstream_tls_resumptions_total", "counter", "Upstream TLS handshakes that resumed a session.");
  out << "trproxy_upstream_tls_resumptions_total " << upstream_tls_resumptions.get() << '\n';
  header("trproxy_egress_refused_total", "counter", "Destinations refused by the egress rules, by rule.");
  for (std::size_t i = 0; i < egress_refused.size(); ++i) {
    out << "trproxy_egress_refused_total{rule=\"" << policy::to_string(static_cast<policy::EgressRule>(i)) << "\"} "
        << egress_refused[i].get() << '\n';
  }
  header("trproxy_sign_in_guard_total", "counter",
         "Connections to the sign-in service's addresses, by what the sign-in address guard did.");
  for (const auto outcome : {policy::GuardOutcome::refused, policy::GuardOutcome::logged,
                             policy::GuardOutcome::tunnelled, policy::GuardOutcome::intercepted}) {
    out << "trproxy_sign_in_guard_total{outcome=\"" << policy::to_string(outcome) << "\"} "
        << sign_in_guard_outcomes[static_cast<std::size_t>(outcome)].get() << '\n';
  }
  header("trproxy_config_reloads_total", "counter", "Configuration reloads by result.");
  out << "trproxy_config_reloads_total{result=\"success\"} " << reloads_ok.get() << '\n';
  out << "trproxy_config_reloads_total{result=\"failure\"} " << reloads_failed.get() << '\n';
  header("trproxy_upstream_response_seconds", "histogram", "Time from request sent to response head received.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
    cumulative += upstream_latency[i].get();
    out << "trproxy_upstream_response_seconds_bucket{le=\"" << latency_buckets[i] << "\"} " << cumulative << '\n';
  }
  cumulative += upstream_latency.back().get();
  out << "trproxy_upstream_response_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n';
  out << "trproxy_upstream_response_seconds_sum "
      << static_cast<double>(upstream_latency_sum_us.load(std::memory_order_relaxed)) / 1e6 << '\n';
  out << "trproxy_upstream_response_seconds_count " << cumulative << '\n';
  return out.str();
}

}  // namespace trproxy::proxy
