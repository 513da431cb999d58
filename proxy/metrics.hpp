#pragma once
// Process-wide counters for /metrics. Relaxed atomics: no lock on the request path.

#include "policy/action.hpp"
#include "policy/egress.hpp"
#include "policy/sign_in_guard.hpp"
#include "tls/handshake_failure.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace trproxy::proxy {

using policy::Action;

enum class UpstreamFailure : std::uint8_t { connect, timeout, tls_verify, tls_other, count };

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

class Metrics {
 public:
  static constexpr std::array<double, 10> latency_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

  std::array<Counter, static_cast<std::size_t>(Action::count)> connections;
  std::atomic<std::int64_t> active_connections{0};
  Counter rewritten_auth_v1, rewritten_auth_v2, rewritten_msa_v1, rewritten_msa_v2;
  Counter spoofed_headers_stripped;
  std::array<Counter, 600> refused_by_status;  // index = HTTP status
  std::array<Counter, static_cast<std::size_t>(UpstreamFailure::count)> upstream_failures;
  Counter tls_handshakes, tls_resumptions;
  std::array<Counter, static_cast<std::size_t>(tls::HandshakeFailure::count)> tls_handshake_failures;
  Counter upstream_tls_handshakes, upstream_tls_resumptions;
  Counter reloads_ok, reloads_failed;
  std::array<Counter, static_cast<std::size_t>(policy::EgressRule::count)> egress_refused;
  std::array<Counter, static_cast<std::size_t>(policy::GuardOutcome::count)> sign_in_guard_outcomes;
  std::array<Counter, latency_buckets.size() + 1> upstream_latency;  // last = +Inf
  std::atomic<std::uint64_t> upstream_latency_sum_us{0};

  void connection(Action action) { connections[static_cast<std::size_t>(action)].add(); }
  void refused(int status) {
    if (status > 0 && status < 600) refused_by_status[static_cast<std::size_t>(status)].add();
  }
  void sign_in_guard(policy::GuardOutcome outcome) {
    sign_in_guard_outcomes[static_cast<std::size_t>(outcome)].add();
  }
  void egress_refusal(policy::EgressRule rule) { egress_refused[static_cast<std::size_t>(rule)].add(); }
  void tls_handshake_failure(tls::HandshakeFailure reason) {
    tls_handshake_failures[static_cast<std::size_t>(reason)].add();
  }
  void upstream_failure(UpstreamFailure kind) { upstream_failures[static_cast<std::size_t>(kind)].add(); }
  void observe_upstream_latency(double seconds);

  struct BuildInfo {
    std::string version;
    std::string mode;
    std::uint64_t certs_minted;
    std::uint64_t cert_cache_hits;
    bool ready;
  };
  [[nodiscard]] std::string render(const BuildInfo& info) const;
};

}  // namespace trproxy::proxy
