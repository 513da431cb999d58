#pragma once
// Counters for /metrics, sharded per worker. Each worker counts into its own Metrics (aligned to
// its own cache lines, reached through the worker's Services), and a scrape sums the shards: the
// request path never writes a cache line another core writes. Relaxed atomics: a scrape may see
// a counter a moment late, never torn.
//
// Adding a counter: a field in Metrics (Counter, a Counters<N> array or a Histogram), a method
// that names the event if it has labels, and one block in MetricsRegistry::render (metrics.cpp)
// that sums it with `sum` and writes every label value the configuration allows, at zero too.

#include "config/config.hpp"
#include "policy/action.hpp"
#include "policy/admission.hpp"
#include "policy/egress.hpp"
#include "policy/host_class.hpp"
#include "policy/sign_in_guard.hpp"
#include "policy/transparent.hpp"
#include "proxy/observe/process_stats.hpp"
#include "proxy/observe/prometheus.hpp"
#include "tls/handshake_failure.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::proxy {

using policy::Action;

enum class UpstreamFailure : std::uint8_t { connect, timeout, tls_verify, tls_other, count };

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

template <std::size_t N>
struct Counters {
  std::array<Counter, N> items;
  void add(std::size_t i, std::uint64_t n = 1) { items[i].add(n); }
  [[nodiscard]] std::uint64_t get(std::size_t i) const { return items[i].get(); }
};

// Cumulative buckets are computed at scrape; each observation adds to one bucket.
template <std::size_t N>
struct Histogram {
  const std::array<double, N>& bounds;
  std::array<Counter, N + 1> buckets{};  // last = +Inf
  Counter sum_micros;
  explicit Histogram(const std::array<double, N>& b) : bounds(b) {}
  void observe(double seconds) {
    std::size_t i = 0;
    while (i < N && seconds > bounds[i]) ++i;
    buckets[i].add();
    sum_micros.add(static_cast<std::uint64_t>(seconds * 1e6));
  }
};

inline constexpr std::array<double, 10> upstream_latency_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
inline constexpr std::array<double, 10> handshake_latency_buckets{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,  0.1,    0.25,  0.5,  1};

// The host classes upstream responses are counted by, and their label values.
enum class ResponseHost : std::uint8_t { auth, msa, other, count };
ResponseHost response_host(policy::HostClass host_class);
inline constexpr std::size_t status_classes = 4;  // 2xx 3xx 4xx 5xx

constexpr std::size_t actions = static_cast<std::size_t>(Action::count);

// One worker's counters.
struct alignas(64) Metrics {
  Counters<actions> connections;     // client connections, by the action of their first line
  Counters<actions> requests;        // access-log lines, by action
  Counters<actions> bytes_received;  // from clients
  Counters<actions> bytes_sent;      // to clients
  Counter rewritten_auth_v1, rewritten_auth_v2, rewritten_msa_v1, rewritten_msa_v2;
  Counter spoofed_headers_stripped;
  Counters<600> refused_by_status;  // index = HTTP status
  Counters<static_cast<std::size_t>(UpstreamFailure::count)> upstream_failures;
  Counters<static_cast<std::size_t>(ResponseHost::count) * status_classes> upstream_responses;
  Counter tls_handshakes, tls_resumptions;
  Counters<static_cast<std::size_t>(tls::HandshakeFailure::count)> tls_handshake_failures;
  Histogram<handshake_latency_buckets.size()> tls_handshake_latency{handshake_latency_buckets};
  Counter upstream_tls_handshakes, upstream_tls_resumptions;
  Counters<static_cast<std::size_t>(policy::EgressRule::count)> egress_refused;
  Counters<static_cast<std::size_t>(policy::AdmissionRefusal::count)> connections_refused;
  Counters<static_cast<std::size_t>(policy::GuardOutcome::count)> sign_in_guard_outcomes;
  Counters<static_cast<std::size_t>(policy::TransparentAction::count)> transparent_flows;
  Counter transparent_loops;
  Histogram<upstream_latency_buckets.size()> upstream_latency{upstream_latency_buckets};
  Counter upstream_pool_hits, upstream_pool_misses, upstream_pool_evictions, upstream_pool_retries;
  // Name lookups of upstream hosts: answered from the worker's cache, sent to DNS, and how each
  // dial's lookup ended (by DnsError: resolved, no_such_name, no_address, timeout, failure).
  static constexpr std::size_t dns_results = 5;
  Counter dns_cache_hits, dns_queries;
  Counters<dns_results> dns_lookups;

  // One access-log line: its request, its bytes, and its connection when it is the first.
  void request(Action action, std::uint64_t bytes_in, std::uint64_t bytes_out, bool first_of_connection) {
    const auto i = static_cast<std::size_t>(action);
    requests.add(i);
    bytes_received.add(i, bytes_in);
    bytes_sent.add(i, bytes_out);
    if (first_of_connection) connections.add(i);
  }
  void refused(int status) {
    if (status > 0 && status < 600) refused_by_status.add(static_cast<std::size_t>(status));
  }
  void sign_in_guard(policy::GuardOutcome outcome) { sign_in_guard_outcomes.add(static_cast<std::size_t>(outcome)); }
  void transparent_flow(policy::TransparentAction action) { transparent_flows.add(static_cast<std::size_t>(action)); }
  void egress_refusal(policy::EgressRule rule) { egress_refused.add(static_cast<std::size_t>(rule)); }
  void connection_refused(policy::AdmissionRefusal reason) {
    connections_refused.add(static_cast<std::size_t>(reason));
  }
  void tls_handshake_failure(tls::HandshakeFailure reason) {
    tls_handshake_failures.add(static_cast<std::size_t>(reason));
  }
  void upstream_failure(UpstreamFailure kind) { upstream_failures.add(static_cast<std::size_t>(kind)); }
  void observe_upstream_latency(double seconds) { upstream_latency.observe(seconds); }
  // A final response from an upstream (status 200..599).
  void upstream_response(policy::HostClass host_class, int status) {
    if (status < 200 || status > 599) return;
    upstream_responses.add(static_cast<std::size_t>(response_host(host_class)) * status_classes +
                           static_cast<std::size_t>(status / 100 - 2));
  }
};

// What a scrape reads from the running process rather than from counters.
struct ScrapeState {
  const config::Config* config = nullptr;  // the current configuration
  std::uint64_t config_revision = 0;
  std::string config_sha256;
  std::uint64_t certs_minted = 0;
  std::uint64_t cert_cache_hits = 0;
  std::uint64_t cert_cache_size = 0;
  std::int64_t ca_not_after = 0;  // Unix seconds
  bool ready = false;
  std::optional<ProcessStats> process;
};

// The process's metrics: the shards, the active-connection count (shared: the connection limit
// needs the total at accept time), and what the control thread counts (reloads).
class MetricsRegistry {
 public:
  explicit MetricsRegistry(std::size_t shards);
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Metrics& shard(std::size_t i) { return *shards_[i]; }

  template <class Read>
  [[nodiscard]] std::uint64_t sum(Read read) const {
    std::uint64_t total = 0;
    for (const auto& shard : shards_) total += read(*shard);
    return total;
  }

  alignas(64) std::atomic<std::int64_t> active_connections{0};

  // The listeners' accept loops pausing on descriptor or memory exhaustion (control thread).
  enum class Listener : std::uint8_t { proxy, transparent, admin, count };
  Counter& accept_pauses(Listener listener) { return accept_pauses_.items[static_cast<std::size_t>(listener)]; }

  // Control thread only.
  void reload_succeeded(double unix_seconds);
  void reload_failed();

  [[nodiscard]] std::string render(const ScrapeState& state) const;

 private:
  [[nodiscard]] std::uint64_t total(Counter Metrics::*field) const;
  void render_identity(Exposition& out, const ScrapeState& state) const;
  void render_traffic(Exposition& out, const ScrapeState& state) const;
  void render_outcomes(Exposition& out) const;
  void render_tls(Exposition& out, const ScrapeState& state) const;
  void render_pool_and_dns(Exposition& out) const;
  void render_rule_refusals(Exposition& out) const;
  void render_process(Exposition& out, const ProcessStats& process) const;

  std::vector<std::unique_ptr<Metrics>> shards_;
  Counter reloads_ok_, reloads_failed_;
  Counters<static_cast<std::size_t>(Listener::count)> accept_pauses_;
  std::atomic<bool> last_reload_ok_{true};
  std::atomic<double> last_reload_success_{0};  // start counts as the first successful load
};

}  // namespace trproxy::proxy
