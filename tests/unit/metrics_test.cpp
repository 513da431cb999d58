// /metrics (DESIGN.md, "Admin"; issue 13): per-worker shards summed at scrape, every labelled
// series present from start at zero, the exposition format's escaping.

#include "proxy/observe/metrics.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace trproxy;
using namespace trproxy::proxy;

namespace {

std::string render(const MetricsRegistry& registry) {
  config::Config config;
  config.limits.max_connections = 1234;
  ScrapeState state;
  state.config = &config;
  state.config_revision = 3;
  state.config_sha256 = "abc";
  state.ca_not_after = 1900000000;
  state.ready = true;
  return registry.render(state);
}

}  // namespace

TEST_CASE("each worker counts on its own cache lines and a scrape sums them") {
  MetricsRegistry registry(3);
  auto& a = registry.shard(0);
  auto& b = registry.shard(1);
  const auto distance = reinterpret_cast<std::uintptr_t>(&b) > reinterpret_cast<std::uintptr_t>(&a)
                            ? reinterpret_cast<std::uintptr_t>(&b) - reinterpret_cast<std::uintptr_t>(&a)
                            : reinterpret_cast<std::uintptr_t>(&a) - reinterpret_cast<std::uintptr_t>(&b);
  CHECK(alignof(Metrics) >= 64);
  CHECK(reinterpret_cast<std::uintptr_t>(&a) % 64 == 0);
  CHECK(distance >= sizeof(Metrics));

  a.request(Action::intercept, 100, 200, true);
  a.request(Action::intercept, 10, 20, false);
  b.request(Action::intercept, 1, 2, true);
  b.request(Action::pac, 5, 6, true);
  registry.shard(2).upstream_response(policy::HostClass::auth, 503);
  a.upstream_response(policy::HostClass::other, 204);
  a.upstream_response(policy::HostClass::msa, 101);  // not a final response: not counted
  const auto text = render(registry);
  CHECK_THAT(text, Catch::Contains("trproxy_requests_total{action=\"intercept\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_connections_total{action=\"intercept\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_requests_total{action=\"pac\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_client_received_bytes_total{action=\"intercept\"} 111\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_client_sent_bytes_total{action=\"intercept\"} 222\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_responses_total{code=\"5xx\",host_class=\"auth\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_responses_total{code=\"2xx\",host_class=\"other\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_responses_total{code=\"2xx\",host_class=\"msa\"} 0\n"));
}

TEST_CASE("every labelled series the configuration allows is present from start, at zero") {
  MetricsRegistry registry(2);
  const auto text = render(registry);
  for (const char* series :
       {"trproxy_requests_total{action=\"block\"} 0\n", "trproxy_connections_total{action=\"deny\"} 0\n",
        "trproxy_requests_refused_total{status=\"400\"} 0\n", "trproxy_requests_refused_total{status=\"421\"} 0\n",
        "trproxy_requests_refused_total{status=\"504\"} 0\n",
        "trproxy_upstream_failures_total{kind=\"tls_verify\"} 0\n", "trproxy_egress_refused_total{rule=\"self\"} 0\n",
        "trproxy_sign_in_guard_total{outcome=\"refused\"} 0\n",
        "trproxy_client_tls_handshake_seconds_bucket{le=\"+Inf\"} 0\n",
        "trproxy_config_reloads_total{result=\"failure\"} 0\n"}) {
    CHECK_THAT(text, Catch::Contains(series));
  }
  for (const auto reason : tls::all_handshake_failures()) {
    CHECK_THAT(text, Catch::Contains(std::string("trproxy_client_tls_handshake_failures_total{reason=\"") +
                                     tls::to_string(reason) + "\"} 0\n"));
  }
  CHECK_THAT(text, Catch::Contains("trproxy_max_connections 1234\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_config_info{revision=\"3\",sha256=\"abc\",mode=\"v2\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_ca_not_after_timestamp_seconds 1900000000\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_config_last_reload_successful 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_build_info{version=\"" TRPROXY_VERSION "\",commit=\""));
}

TEST_CASE("a refusal status outside the usual ones appears once counted") {
  MetricsRegistry registry(1);
  CHECK_THAT(render(registry), !Catch::Contains("status=\"417\""));
  registry.shard(0).refused(417);
  CHECK_THAT(render(registry), Catch::Contains("trproxy_requests_refused_total{status=\"417\"} 1\n"));
}

TEST_CASE("histograms are cumulative over every shard") {
  MetricsRegistry registry(2);
  registry.shard(0).observe_upstream_latency(0.003);
  registry.shard(1).observe_upstream_latency(0.2);
  registry.shard(1).observe_upstream_latency(30);
  const auto text = render(registry);
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_bucket{le=\"0.005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_bucket{le=\"0.25\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_bucket{le=\"10\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_count 3\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_upstream_response_seconds_sum 30.203\n"));
}

TEST_CASE("a rejected reload shows until the next good one") {
  MetricsRegistry registry(1);
  registry.reload_failed();
  CHECK_THAT(render(registry), Catch::Contains("trproxy_config_last_reload_successful 0\n"));
  registry.reload_succeeded(1800000000.5);
  const auto text = render(registry);
  CHECK_THAT(text, Catch::Contains("trproxy_config_last_reload_successful 1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_config_last_reload_success_timestamp_seconds 1800000000.5\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_config_reloads_total{result=\"failure\"} 1\n"));
}

TEST_CASE("label values are escaped") {
  CHECK(label_pair("profile", "a\"b\\c\nd") == "profile=\"a\\\"b\\\\c\\nd\"");
}
