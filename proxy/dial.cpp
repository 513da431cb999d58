#include "proxy/dial.hpp"

#include "proxy/deadline.hpp"
#include "proxy/services.hpp"

#include <spdlog/spdlog.h>

#include <variant>

namespace trproxy::proxy {
namespace {

struct Candidates {
  std::vector<tcp::endpoint> endpoints;
  bool operator_chosen = false;  // upstream.resolve: exempt from egress.deny
};

DialFailure failed(int status, std::string reason) {
  return DialFailure{policy::Refusal{status, policy::Action::deny, std::move(reason)}};
}

net::awaitable<std::variant<DialFailure, Candidates>> candidates_for(const config::Config& config, DialTarget target) {
  const auto& overrides = config.upstream.resolve;
  if (const auto it = overrides.find(std::string(target.host)); it != overrides.end()) {
    error_code ec;
    const auto address = net::ip::make_address(it->second.host, ec);
    if (ec) co_return failed(502, "upstream.resolve address is not an IP address");
    co_return Candidates{{tcp::endpoint(address, it->second.port)}, true};
  }
  error_code literal_ec;
  const auto literal = net::ip::make_address(target.host, literal_ec);
  if (!literal_ec) co_return Candidates{{tcp::endpoint(literal, target.port)}, false};

  tcp::resolver resolver(co_await net::this_coro::executor);
  // Named, not temporaries: GCC 12 destroys some temporaries of a co_await expression twice.
  const std::string host(target.host);
  const std::string service = std::to_string(target.port);
  auto [ec, results] = co_await resolver.async_resolve(host, service, tcp::resolver::numeric_service, use_tuple);
  if (ec) co_return failed(502, "cannot resolve the upstream host");
  Candidates out;
  for (const auto& entry : results) out.endpoints.push_back(entry.endpoint());
  co_return out;
}

// Resolves, applies the address rules, and connects to the first allowed address that answers.
net::awaitable<std::optional<DialFailure>> resolve_and_connect(beast::tcp_stream& stream, const Runtime& runtime,
                                                               const Services& services, DialTarget target) {
  const auto& config = runtime.config();
  auto found = co_await candidates_for(config, target);
  if (auto* failure = std::get_if<DialFailure>(&found)) co_return std::move(*failure);
  const auto& candidates = std::get<Candidates>(found);
  std::optional<policy::EgressRefusal> refused;
  error_code last_error;
  for (const auto& endpoint : candidates.endpoints) {
    if (auto refusal = policy::check_egress_address(config.egress, services.self, to_ip_address(endpoint.address()),
                                                    endpoint.port(), candidates.operator_chosen)) {
      if (!refused) refused = std::move(refusal);
      continue;
    }
    error_code ignored;
    stream.socket().close(ignored);
    auto [ec] = co_await stream.socket().async_connect(endpoint, use_tuple);
    if (!ec) {
      stream.socket().set_option(tcp::no_delay(true), ignored);
      co_return std::nullopt;
    }
    last_error = ec;
  }
  if (refused && !last_error) {
    services.metrics.egress_refusal(refused->rule);
    co_return DialFailure{std::move(refused->refusal)};
  }
  services.metrics.upstream_failure(UpstreamFailure::connect);
  co_return failed(502, "cannot connect to upstream");
}

}  // namespace

net::awaitable<std::optional<DialFailure>> dial(beast::tcp_stream& stream, const Runtime& runtime,
                                                const Services& services, DialTarget target) {
  const auto deadline = Clock::now() + runtime.config().upstream.connect_timeout;
  auto outcome = co_await within(deadline, resolve_and_connect(stream, runtime, services, target));
  if (outcome) co_return std::move(*outcome);
  services.metrics.upstream_failure(UpstreamFailure::timeout);
  error_code ignored;
  stream.socket().close(ignored);
  co_return failed(504, "upstream connect timed out");
}

net::awaitable<std::optional<DialFailure>> dial_tls(std::optional<TlsStream>& upstream, const Runtime& runtime,
                                                    const Services& services, DialTarget target) {
  auto& metrics = services.metrics;
  beast::tcp_stream tcp_stream(co_await net::this_coro::executor);
  if (auto failure = co_await dial(tcp_stream, runtime, services, target)) co_return failure;
  upstream.emplace(std::move(tcp_stream), runtime.upstream_tls->new_session(std::string(target.host)).release());
  expire_after(*upstream, runtime.config().upstream.connect_timeout);
  auto [ec] = co_await upstream->async_handshake(net::ssl::stream_base::client, use_tuple);
  if (!ec) {
    metrics.upstream_tls_handshakes.add();
    if (SSL_session_reused(upstream->native_handle())) metrics.upstream_tls_resumptions.add();
    co_return std::nullopt;
  }
  const auto verify = tls::UpstreamTls::verify_failure(upstream->native_handle());
  upstream.reset();
  if (!verify.empty()) {
    metrics.upstream_failure(UpstreamFailure::tls_verify);
    spdlog::warn("upstream {}: certificate verification failed: {}", target.host, verify);
    co_return failed(502, "upstream certificate verification failed: " + verify);
  }
  const bool timeout = ec == beast::error::timeout;
  metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::tls_other);
  spdlog::warn("upstream {}: TLS handshake failed: {}", target.host, ec.message());
  co_return failed(timeout ? 504 : 502, timeout ? "upstream TLS handshake timed out" : "upstream TLS handshake failed");
}

}  // namespace trproxy::proxy
