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

net::awaitable<std::variant<DialFailure, Candidates>> candidates_for(const config::Config& config, DialTarget target,
                                                                   Clock::time_point deadline) {
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

  // Asio runs getaddrinfo on a background thread that neither per-operation cancellation nor
  // resolver.cancel() can interrupt. So the lookup runs detached, owning its state, and this
  // coroutine waits on a timer that the lookup's completion cancels: at the deadline it gives up
  // (504) and the lookup's late answer is dropped.
  struct Lookup {
    Lookup(const net::any_io_executor& executor, Clock::time_point deadline)
        : resolver(executor), wake(executor, deadline) {}
    tcp::resolver resolver;
    net::steady_timer wake;
    error_code ec;
    tcp::resolver::results_type results;
    bool done = false;
  };
  auto lookup = std::make_shared<Lookup>(co_await net::this_coro::executor, deadline);
  lookup->resolver.async_resolve(std::string(target.host), std::to_string(target.port),
                                 tcp::resolver::numeric_service,
                                 [lookup](const error_code& ec, tcp::resolver::results_type results) {
                                   lookup->ec = ec;
                                   lookup->results = std::move(results);
                                   lookup->done = true;
                                   lookup->wake.cancel();
                                 });
  co_await lookup->wake.async_wait(use_tuple);
  if (!lookup->done) {
    lookup->resolver.cancel();
    co_return failed(504, "upstream name lookup timed out");
  }
  if (lookup->ec) co_return failed(502, "cannot resolve the upstream host");
  const auto results = std::move(lookup->results);
  Candidates out;
  for (const auto& entry : results) out.endpoints.push_back(entry.endpoint());
  co_return out;
}

// Resolves, applies the address rules, and connects to the first allowed address that answers.
net::awaitable<std::optional<DialFailure>> resolve_and_connect(beast::tcp_stream& stream, const Runtime& runtime,
                                                               const Services& services, DialTarget target,
                                                               Clock::time_point deadline) {
  const auto& config = runtime.config();
  auto found = co_await candidates_for(config, target, deadline);
  if (auto* failure = std::get_if<DialFailure>(&found)) {
    services.metrics.upstream_failure(failure->refusal.status == 504 ? UpstreamFailure::timeout
                                                                     : UpstreamFailure::connect);
    co_return std::move(*failure);
  }
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
  auto outcome = co_await within(deadline, resolve_and_connect(stream, runtime, services, target, deadline));
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
