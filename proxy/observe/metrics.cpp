#include "proxy/observe/metrics.hpp"

#include <charconv>
#include <initializer_list>

#include "proxy/observe/version.hpp"

namespace trproxy::proxy {
namespace {

constexpr std::array<const char*, static_cast<std::size_t>(UpstreamFailure::count)> upstream_failure_names{
    "connect", "timeout", "tls_verify", "tls_other"};
constexpr std::array<const char*, static_cast<std::size_t>(ResponseHost::count)> response_host_names{"auth", "msa",
                                                                                                     "other"};
// In DnsError's order (proxy/upstream/dns_cache.hpp).
constexpr std::array<const char*, Metrics::dns_results> dns_result_names{"resolved", "no_such_name", "no_address",
                                                                         "timeout", "failure"};
constexpr std::array<const char*, status_classes> status_class_names{"2xx", "3xx", "4xx", "5xx"};
// Refusals the proxy can send, present from start (others appear when first sent).
constexpr std::array<int, 8> refusal_statuses{400, 403, 408, 421, 431, 502, 503, 504};

template <std::size_t N>
void render_histogram(Exposition& out, const MetricsRegistry& registry, std::string_view name,
                      const std::array<double, N>& bounds, Histogram<N> Metrics::*field) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= N; ++i) {
    cumulative += registry.sum([&](const Metrics& m) { return (m.*field).buckets[i].get(); });
    out.sample(bucket, label_pair("le", i < N ? prometheus_number(bounds[i]) : "+Inf"), cumulative);
  }
  const auto micros = registry.sum([&](const Metrics& m) { return (m.*field).sum_micros.get(); });
  out.sample(std::string(name) + "_sum", "", static_cast<double>(micros) / 1e6);
  out.sample(std::string(name) + "_count", "", cumulative);
}

}  // namespace

ResponseHost response_host(policy::HostClass host_class) {
  switch (host_class) {
    case policy::HostClass::auth: return ResponseHost::auth;
    case policy::HostClass::msa: return ResponseHost::msa;
    default: return ResponseHost::other;
  }
}

MetricsRegistry::MetricsRegistry(std::size_t shards) {
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) shards_.push_back(std::make_unique<Metrics>());
}

void MetricsRegistry::reload_succeeded(double unix_seconds) {
  reloads_ok_.add();
  last_reload_ok_ = true;
  last_reload_success_ = unix_seconds;
}

void MetricsRegistry::reload_failed() {
  reloads_failed_.add();
  last_reload_ok_ = false;
}

std::uint64_t MetricsRegistry::total(Counter Metrics::*field) const {
  return sum([&](const Metrics& m) { return (m.*field).get(); });
}

// The catalogue, in exposition order: what runs, what passes, how it ended, TLS, the upstream
// pool and DNS, the rules' refusals, the process.
std::string MetricsRegistry::render(const ScrapeState& state) const {
  Exposition out;
  render_identity(out, state);
  render_traffic(out, state);
  render_outcomes(out);
  render_tls(out, state);
  render_pool_and_dns(out);
  render_rule_refusals(out);
  if (state.process) render_process(out, *state.process);
  return std::move(out).take();
}

void MetricsRegistry::render_identity(Exposition& out, const ScrapeState& state) const {
  out.family("trproxy_build_info", "gauge", "The running binary: version, source commit, OpenSSL and Boost versions.");
  out.sample("trproxy_build_info",
             label_pair("version", version) + "," + label_pair("commit", build_commit) + "," +
                 label_pair("openssl", openssl_version()) + "," + label_pair("boost", boost_version()),
             std::uint64_t{1});
  if (state.config) {
    out.family("trproxy_config_info", "gauge",
               "The configuration in use: its revision (1 at start, +1 per reload), the SHA-256 of its file and "
               "the tenant-restrictions mode.");
    out.sample("trproxy_config_info",
               label_pair("revision", std::to_string(state.config_revision)) + "," +
                   label_pair("sha256", state.config_sha256) + "," +
                   label_pair("mode", config::to_string(state.config->tenant_restrictions.mode)),
               std::uint64_t{1});
  }
  out.single("trproxy_ready", "gauge", "1 when the listener is up and the CA is loaded, 0 while draining.",
             std::uint64_t{state.ready ? 1u : 0u});
  out.single("trproxy_config_last_reload_successful", "gauge",
             "1 when the last configuration (re)load succeeded, 0 when the last reload was rejected.",
             std::uint64_t{last_reload_ok_.load() ? 1u : 0u});
  out.single("trproxy_config_last_reload_success_timestamp_seconds", "gauge",
             "When the configuration was last loaded successfully (start or reload), Unix seconds.",
             last_reload_success_.load());
  out.family("trproxy_config_reloads_total", "counter", "Configuration reloads by result.");
  out.sample("trproxy_config_reloads_total", R"(result="success")", reloads_ok_.get());
  out.sample("trproxy_config_reloads_total", R"(result="failure")", reloads_failed_.get());
  out.single("trproxy_ca_not_after_timestamp_seconds", "gauge",
             "When the internal CA certificate expires, Unix seconds.", static_cast<double>(state.ca_not_after));
}

void MetricsRegistry::render_traffic(Exposition& out, const ScrapeState& state) const {
  const auto by_action = [&](std::string_view name, std::string_view type, std::string_view help,
                             Counters<actions> Metrics::*field) {
    out.family(name, type, help);
    for (std::size_t i = 0; i < actions; ++i) {
      out.sample(name, label_pair("action", policy::to_string(static_cast<Action>(i))),
                 sum([&](const Metrics& m) { return (m.*field).get(i); }));
    }
  };
  by_action("trproxy_connections_total", "counter",
            "Client connections, by the action of their first request (CONNECT or plain HTTP).", &Metrics::connections);
  by_action("trproxy_requests_total", "counter",
            "Requests and tunnels (one per access-log line) by action; pac = a PAC file served on the proxy port.",
            &Metrics::requests);
  by_action("trproxy_client_received_bytes_total", "counter",
            "Bytes read from clients, by action (tunnels are counted when they close).", &Metrics::bytes_received);
  by_action("trproxy_client_sent_bytes_total", "counter",
            "Bytes written to clients, by action (tunnels are counted when they close).", &Metrics::bytes_sent);
  out.single("trproxy_active_connections", "gauge", "Client connections currently open.",
             static_cast<double>(active_connections.load(std::memory_order_relaxed)));
  if (state.config) {
    out.single("trproxy_max_connections", "gauge", "limits.max_connections: more are refused with 503.",
               static_cast<std::uint64_t>(state.config->limits.max_connections));
  }

  out.family("trproxy_requests_rewritten_total", "counter",
             "Intercepted requests with tenant-restriction headers set.");
  out.sample("trproxy_requests_rewritten_total", R"(host_class="auth",mode="v1")", total(&Metrics::rewritten_auth_v1));
  out.sample("trproxy_requests_rewritten_total", R"(host_class="auth",mode="v2")", total(&Metrics::rewritten_auth_v2));
  out.sample("trproxy_requests_rewritten_total", R"(host_class="msa",mode="v1")", total(&Metrics::rewritten_msa_v1));
  out.sample("trproxy_requests_rewritten_total", R"(host_class="msa",mode="v2")", total(&Metrics::rewritten_msa_v2));
  out.single("trproxy_client_tenant_headers_stripped_total", "counter",
             "Client-supplied tenant-restriction headers removed (spoofing attempts).",
             total(&Metrics::spoofed_headers_stripped));
}

void MetricsRegistry::render_outcomes(Exposition& out) const {
  out.family("trproxy_requests_refused_total", "counter", "Requests refused by trproxy, by HTTP status.");
  for (std::size_t status = 0; status < 600; ++status) {
    const auto n = sum([&](const Metrics& m) { return m.refused_by_status.get(status); });
    const bool listed =
        std::find(refusal_statuses.begin(), refusal_statuses.end(), static_cast<int>(status)) != refusal_statuses.end();
    if (n || listed) out.sample("trproxy_requests_refused_total", label_pair("status", std::to_string(status)), n);
  }
  out.family("trproxy_upstream_failures_total", "counter", "Upstream failures by kind.");
  for (std::size_t i = 0; i < upstream_failure_names.size(); ++i) {
    out.sample("trproxy_upstream_failures_total", label_pair("kind", upstream_failure_names[i]),
               sum([&](const Metrics& m) { return m.upstream_failures.get(i); }));
  }
  out.family("trproxy_upstream_responses_total", "counter",
             "Final responses from upstream servers, by status class and host class (auth, msa, other).");
  for (std::size_t host = 0; host < response_host_names.size(); ++host) {
    for (std::size_t c = 0; c < status_classes; ++c) {
      out.sample("trproxy_upstream_responses_total",
                 label_pair("code", status_class_names[c]) + "," + label_pair("host_class", response_host_names[host]),
                 sum([&](const Metrics& m) { return m.upstream_responses.get(host * status_classes + c); }));
    }
  }
  out.family("trproxy_upstream_response_seconds", "histogram", "Time from request sent to response head received.");
  render_histogram(out, *this, "trproxy_upstream_response_seconds", upstream_latency_buckets,
                   &Metrics::upstream_latency);
}

void MetricsRegistry::render_tls(Exposition& out, const ScrapeState& state) const {
  out.single("trproxy_leaf_certificates_minted_total", "counter", "Leaf certificates minted from the internal CA.",
             state.certs_minted);
  out.single("trproxy_leaf_certificate_cache_hits_total", "counter", "Leaf certificate cache hits.",
             state.cert_cache_hits);
  out.single("trproxy_leaf_certificate_cache_entries", "gauge", "Leaf certificates held in the cache.",
             state.cert_cache_size);

  out.single("trproxy_client_tls_handshakes_total", "counter", "Completed client-side TLS handshakes.",
             total(&Metrics::tls_handshakes));
  out.single("trproxy_client_tls_resumptions_total", "counter", "Client-side TLS handshakes that resumed a session.",
             total(&Metrics::tls_resumptions));
  out.family("trproxy_client_tls_handshake_failures_total", "counter",
             "Client-side TLS handshakes that failed, by reason (the alert the client sent, e.g. unknown_ca).");
  for (const auto reason : tls::all_handshake_failures()) {
    out.sample("trproxy_client_tls_handshake_failures_total", label_pair("reason", tls::to_string(reason)),
               sum([&](const Metrics& m) { return m.tls_handshake_failures.get(static_cast<std::size_t>(reason)); }));
  }
  out.family("trproxy_client_tls_handshake_seconds", "histogram",
             "Duration of successful client-side TLS handshakes on intercepted connections.");
  render_histogram(out, *this, "trproxy_client_tls_handshake_seconds", handshake_latency_buckets,
                   &Metrics::tls_handshake_latency);
  out.single("trproxy_upstream_tls_handshakes_total", "counter", "Completed upstream TLS handshakes (verified).",
             total(&Metrics::upstream_tls_handshakes));
  out.single("trproxy_upstream_tls_resumptions_total", "counter", "Upstream TLS handshakes that resumed a session.",
             total(&Metrics::upstream_tls_resumptions));
  out.family("trproxy_tls_handshakes_total", "counter",
             "Completed TLS handshakes by side (client: clients to trproxy; upstream: trproxy to the sign-in "
             "servers) and kind (full, or resumed from a session ticket).");
  {
    // Resumptions are counted after their handshake; relaxed reads may still see them first.
    const auto full = [](std::uint64_t all, std::uint64_t resumed) { return all > resumed ? all - resumed : 0; };
    const auto client_resumed = total(&Metrics::tls_resumptions);
    const auto upstream_resumed = total(&Metrics::upstream_tls_resumptions);
    out.sample("trproxy_tls_handshakes_total", "side=\"client\",kind=\"full\"",
               full(total(&Metrics::tls_handshakes), client_resumed));
    out.sample("trproxy_tls_handshakes_total", "side=\"client\",kind=\"resumed\"", client_resumed);
    out.sample("trproxy_tls_handshakes_total", "side=\"upstream\",kind=\"full\"",
               full(total(&Metrics::upstream_tls_handshakes), upstream_resumed));
    out.sample("trproxy_tls_handshakes_total", "side=\"upstream\",kind=\"resumed\"", upstream_resumed);
  }
}

void MetricsRegistry::render_pool_and_dns(Exposition& out) const {
  out.single("trproxy_upstream_pool_hits_total", "counter",
             "Intercepted requests sent on a pooled upstream connection (no new upstream handshake).",
             total(&Metrics::upstream_pool_hits));
  out.single("trproxy_upstream_pool_misses_total", "counter",
             "Intercepted requests that found no idle upstream connection.", total(&Metrics::upstream_pool_misses));
  out.single("trproxy_upstream_pool_evictions_total", "counter",
             "Idle upstream connections dropped: closed by the server, idle too long, pool full, or stale after a "
             "reload.",
             total(&Metrics::upstream_pool_evictions));
  out.single("trproxy_upstream_pool_retries_total", "counter",
             "Idempotent requests sent again on a fresh connection after a pooled one failed before any response "
             "byte.",
             total(&Metrics::upstream_pool_retries));

  out.single("trproxy_dns_cache_hits_total", "counter", "Upstream name lookups answered from a worker's DNS cache.",
             total(&Metrics::dns_cache_hits));
  out.single("trproxy_dns_queries_total", "counter",
             "Upstream name lookups sent to DNS (an A and an AAAA query each; concurrent lookups of a name share one).",
             total(&Metrics::dns_queries));
  out.family("trproxy_dns_lookups_total", "counter", "Upstream name lookups by how they ended.");
  for (std::size_t i = 0; i < Metrics::dns_results; ++i) {
    out.sample("trproxy_dns_lookups_total", label_pair("result", dns_result_names[i]),
               sum([&](const Metrics& m) { return m.dns_lookups.get(i); }));
  }
}

void MetricsRegistry::render_rule_refusals(Exposition& out) const {
  out.family("trproxy_accept_pauses_total", "counter",
             "Pauses of a listener's accepts, 100 ms each, while descriptors or kernel memory ran out (EMFILE, "
             "ENFILE, ENOBUFS, ENOMEM): connections wait in the backlog meanwhile. Raise LimitNOFILE, or lower "
             "limits.max_connections.");
  constexpr std::array<std::string_view, 3> listener_names{"proxy", "transparent", "admin"};
  for (std::size_t i = 0; i < listener_names.size(); ++i) {
    out.sample("trproxy_accept_pauses_total", label_pair("listener", listener_names[i]), accept_pauses_.get(i));
  }
  out.family("trproxy_connections_refused_total", "counter",
             "Client connections refused on arrival, by reason (clients.allow, limits.max_connections, "
             "limits.max_connections_per_client).");
  for (std::size_t i = 0; i < static_cast<std::size_t>(policy::AdmissionRefusal::count); ++i) {
    out.sample("trproxy_connections_refused_total",
               label_pair("reason", policy::to_string(static_cast<policy::AdmissionRefusal>(i))),
               sum([&](const Metrics& m) { return m.connections_refused.get(i); }));
  }
  out.family("trproxy_transparent_connections_total", "counter",
             "Flows from the transparent listeners, by what became of them (close: closed without being served).");
  for (std::size_t i = 0; i < static_cast<std::size_t>(policy::TransparentAction::count); ++i) {
    out.sample("trproxy_transparent_connections_total",
               label_pair("action", policy::to_string(static_cast<policy::TransparentAction>(i))),
               sum([&](const Metrics& m) { return m.transparent_flows.get(i); }));
  }
  out.single("trproxy_transparent_loops_total", "counter",
             "Transparent flows closed because they would loop: to the proxy itself, unreadable, or the proxy's own "
             "upstream connections sent back to it (a packet filter rule without the upstream.mark exemption).",
             sum([](const Metrics& m) { return m.transparent_loops.get(); }));
  out.family("trproxy_egress_refused_total", "counter", "Destinations refused by the egress rules, by rule.");
  for (std::size_t i = 0; i < static_cast<std::size_t>(policy::EgressRule::count); ++i) {
    out.sample("trproxy_egress_refused_total",
               label_pair("rule", policy::to_string(static_cast<policy::EgressRule>(i))),
               sum([&](const Metrics& m) { return m.egress_refused.get(i); }));
  }
  out.family("trproxy_sign_in_guard_total", "counter",
             "Connections to the sign-in service's addresses, by what the sign-in address guard did.");
  for (const auto outcome : {policy::GuardOutcome::refused, policy::GuardOutcome::logged,
                             policy::GuardOutcome::tunnelled, policy::GuardOutcome::intercepted}) {
    out.sample("trproxy_sign_in_guard_total", label_pair("outcome", policy::to_string(outcome)),
               sum([&](const Metrics& m) { return m.sign_in_guard_outcomes.get(static_cast<std::size_t>(outcome)); }));
  }
}

void MetricsRegistry::render_process(Exposition& out, const ProcessStats& p) const {
  out.single("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", p.cpu_seconds);
  out.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.resident_bytes);
  out.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtual_bytes);
  out.single("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
             p.start_time_seconds);
  out.single("process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
  out.single("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds);
}

}  // namespace trproxy::proxy
