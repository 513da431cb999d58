#include "config/syntax.hpp"
#include "proxy/session.hpp"

#include <spdlog/spdlog.h>

namespace trproxy::proxy {
namespace {

// A short close for TLS: send close_notify and wait briefly for the peer's, so clients that
// read until close see a clean end of stream.
template <class Stream>
net::awaitable<void> close_tls(Stream& stream) {
  set_timeout(stream, 1s);
  co_await stream.async_shutdown(use_tuple);
  error_code ignored;
  beast::get_lowest_layer(stream).socket().close(ignored);
}

struct UpstreamFailureInfo {
  int status;
  std::string reason;
};

// Connects and TLS-verifies the real upstream for `host`.
net::awaitable<std::optional<UpstreamFailureInfo>> open_upstream(std::optional<TlsStream>& upstream,
                                                                 const std::string& host, std::uint16_t port,
                                                                 ClientContext& context) {
  auto& metrics = context.services.metrics;
  const auto& config = context.config();
  beast::tcp_stream tcp_stream(co_await net::this_coro::executor);
  if (const auto ec = co_await connect_upstream(tcp_stream, config, host, port)) {
    const bool timeout = ec == beast::error::timeout;
    metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::connect);
    spdlog::warn("{} upstream {}:{}: {}", context.peer, host, port, ec.message());
    co_return UpstreamFailureInfo{timeout ? 504 : 502,
                                  timeout ? "upstream connect timed out" : "cannot connect to upstream"};
  }
  upstream.emplace(std::move(tcp_stream), context.runtime->upstream_tls->new_session(host).release());
  set_timeout(*upstream, config.upstream.connect_timeout);
  auto [ec] = co_await upstream->async_handshake(net::ssl::stream_base::client, use_tuple);
  if (ec) {
    const auto verify = tls::UpstreamTls::verify_failure(upstream->native_handle());
    upstream.reset();
    if (!verify.empty()) {
      metrics.upstream_failure(UpstreamFailure::tls_verify);
      spdlog::warn("{} upstream {}: certificate verification failed: {}", context.peer, host, verify);
      co_return UpstreamFailureInfo{502, "upstream certificate verification failed: " + verify};
    }
    const bool timeout = ec == beast::error::timeout;
    metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::tls_other);
    spdlog::warn("{} upstream {}: TLS handshake failed: {}", context.peer, host, ec.message());
    co_return UpstreamFailureInfo{timeout ? 504 : 502,
                                  timeout ? "upstream TLS handshake timed out" : "upstream TLS handshake failed"};
  }
  metrics.upstream_tls_handshakes.add();
  if (SSL_session_reused(upstream->native_handle())) metrics.upstream_tls_resumptions.add();
  co_return std::nullopt;
}

void count_rewrite(Metrics& metrics, policy::HostClass host_class, config::Mode mode) {
  const bool v1 = mode == config::Mode::v1;
  if (host_class == policy::HostClass::auth) {
    (v1 ? metrics.rewritten_auth_v1 : metrics.rewritten_auth_v2).add();
  } else {
    (v1 ? metrics.rewritten_msa_v1 : metrics.rewritten_msa_v2).add();
  }
}

}  // namespace

net::awaitable<void> run_intercept(beast::tcp_stream client_tcp, beast::flat_buffer buffer, std::string host,
                                   policy::HostClass host_class, std::uint16_t port, ClientContext& context) {
  auto& metrics = context.services.metrics;
  const auto& config = context.config();
  metrics.connection(Action::intercept);

  tls::LeafPtr leaf;
  try {
    leaf = context.runtime->leaves->get(host);
  } catch (const std::exception& error) {
    spdlog::error("{} cannot mint a certificate for {}: {}; closing (fail closed)", context.peer, host, error.what());
    co_return;
  }
  TlsStream client(std::move(client_tcp),
                   context.runtime->server_tls->new_session(*leaf, context.runtime->leaves->ca().cert()).release());
  set_timeout(client, config.limits.head_timeout);
  auto [handshake_ec, used] =
      co_await client.async_handshake(net::ssl::stream_base::server, buffer.data(), use_tuple);
  if (handshake_ec) {
    metrics.tls_handshake_failures.add();
    spdlog::info("{} TLS handshake for {} failed: {}; closing (fail closed)", context.peer, host,
                 handshake_ec.message());
    context.log(Action::intercept, "CONNECT", host, {}, 0, 0, 0, context.started);
    co_return;
  }
  buffer.consume(used);
  metrics.tls_handshakes.add();
  if (SSL_session_reused(client.native_handle())) metrics.tls_resumptions.add();

  const auto inserted = context.policy().headers().inserted_block(host_class);
  const policy::RewriteEdits edits{true, false, false, inserted};
  policy::RequestScanner scanner(policy::ScanLimits{config.limits.max_head_bytes, config.limits.max_header_fields});
  policy::RequestHead head;
  std::optional<TlsStream> upstream;
  beast::flat_buffer upstream_buffer(config.limits.max_head_bytes);
  bool first = true;
  for (;;) {
    const auto request_started = std::chrono::steady_clock::now();
    const auto read = co_await read_request_head(client, buffer, scanner, head, config.limits, first);
    first = false;
    if (read == HeadRead::closed) break;
    auto refuse = [&](int status, std::string_view reason) -> net::awaitable<void> {
      metrics.refused(status);
      const auto response = error_response(status, reason);
      set_timeout(client, config.limits.head_timeout);
      co_await write_text(client, response);
      context.log(Action::intercept, head.method, host, head.target, status, 0, response.size(), request_started);
    };
    if (read == HeadRead::invalid) {
      co_await refuse(policy::http_status(scanner.error()), policy::describe(scanner.error()));
      break;
    }
    const bool names_host = host_header_names(head.host, host, 443, port) &&
                            (head.form == policy::TargetForm::origin ||
                             (head.form == policy::TargetForm::absolute && head.https_scheme &&
                              config::normalize_host(head.target_authority.host) == host));
    if (head.form == policy::TargetForm::authority || head.form == policy::TargetForm::asterisk) {
      co_await refuse(405, "method not allowed inside an intercepted connection");
      break;
    }
    if (!names_host) {
      co_await refuse(421, "this connection only serves " + host);
      break;
    }
    if (!upstream) {
      if (auto failure = co_await open_upstream(upstream, host, port, context)) {
        co_await refuse(failure->status, failure->reason);
        break;
      }
      upstream_buffer.clear();
    }
    const auto pieces = policy::rewrite_head(detail::view_of(buffer), head, edits);
    metrics.spoofed_headers_stripped.add(policy::count_tenant_restriction_lines(head));
    count_rewrite(metrics, host_class, context.policy().config().tenant_restrictions.mode);
    const auto method = std::string(head.method);
    const auto target = std::string(head.target);
    const auto result = co_await exchange(client, buffer, head, pieces, *upstream, upstream_buffer, config.limits, metrics);
    context.log(Action::intercept, method, host, target, result.status, result.bytes_from_client,
                result.bytes_to_client, request_started);
    if (!result.failure.empty()) spdlog::debug("{} {} {}: {}", context.peer, method, host, result.failure);
    if (!result.upstream_reusable) upstream.reset();
    if (!result.client_reusable || context.services.draining.load()) break;
  }
  if (upstream) co_await close_tls(*upstream);
  co_await close_tls(client);
}

}  // namespace trproxy::proxy
