#include "proxy/session/intercept.hpp"

#include "policy/connection_auth.hpp"
#include "policy/request_decision.hpp"
#include "policy/rewrite.hpp"
#include "policy/upstream_decision.hpp"
#include "proxy/transport/tls_socket_stream.hpp"
#include "proxy/session/sign_in_outcome.hpp"
#include "proxy/upstream/dialer.hpp"
#include "proxy/session/exchange.hpp"
#include "proxy/session/head_reader.hpp"
#include "tls/handshake_failure.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace trproxy::proxy {
namespace {

// A short close for TLS: send close_notify and wait briefly for the peer's, so clients that
// read until close see a clean end of stream.
template <class Stream>
net::awaitable<void> close_tls(Stream& stream) {
  expire_after(stream, std::chrono::seconds(1));
  co_await stream.async_shutdown(use_tuple);
  error_code ignored;
  beast::get_lowest_layer(stream).socket().close(ignored);
}

void count_rewrite(Metrics& metrics, policy::HostClass host_class, config::Mode mode) {
  const bool v1 = mode == config::Mode::v1;
  if (host_class == policy::HostClass::auth) {
    (v1 ? metrics.rewritten_auth_v1 : metrics.rewritten_auth_v2).add();
  } else {
    (v1 ? metrics.rewritten_msa_v1 : metrics.rewritten_msa_v2).add();
  }
}

// Why the client's handshake failed: the alert it sent (a client that does not trust the CA
// says unknown_ca), a timeout, a close, or something else.
tls::HandshakeFailure handshake_failure_of(const error_code& ec) {
  using tls::HandshakeEnd;
  if (ec.category() == net::error::get_ssl_category()) {
    return tls::classify_handshake_failure(HandshakeEnd::tls_error, static_cast<unsigned int>(ec.value()));
  }
  if (ec == beast::error::timeout) return tls::classify_handshake_failure(HandshakeEnd::timed_out, 0);
  const bool closed = ec == net::ssl::error::stream_truncated || ec == net::error::eof ||
                      ec == net::error::connection_reset || ec == net::error::broken_pipe;
  return tls::classify_handshake_failure(closed ? HandshakeEnd::closed : HandshakeEnd::other, 0);
}

// The request loop over an established client TLS stream.
// `connection_fields` holds what every line of this connection repeats (SNI, TLS version).
net::awaitable<void> serve_intercepted(ClientConnection& connection, TlsSocketStream& client, beast::flat_buffer& buffer,
                                       const policy::InterceptPlan& plan, const RequestLog& connection_fields) {
  auto& services = connection.services;
  auto& metrics = services.metrics;
  const policy::InterceptedChannel channel{plan.host, plan.host_class, plan.upstream_port};
  // A reload that stops intercepting the host ends an idle connection now; a busy one closes
  // after its current response (checked below).
  connection.tracked.still_allowed = [&tracked = connection.tracked, channel](const Runtime& next) {
    return !tracked.idle || policy::still_intercepted(*next.policy, channel);
  };
  // Upstream connections come from the worker's pool for each request and go back after it. One
  // is held across requests only when pinned: it carried NTLM/Negotiate authentication, which
  // belongs to this client connection alone.
  auto& pool = connection.worker.pool();
  const auto pool_key = plan.host + ":" + std::to_string(plan.upstream_port);
  std::unique_ptr<TlsSocketStream> upstream;
  bool pinned = false;
  const auto& first_limits = connection.config().limits;
  beast::flat_buffer upstream_buffer(first_limits.max_head_bytes);
  policy::RequestHead head;
  bool first = true;
  const auto handshaken = Clock::now();
  for (;;) {
    const auto& limits = connection.config().limits;
    policy::RequestScanner scanner(policy::ScanLimits{limits.max_head_bytes, limits.max_header_fields});
    const auto deadline = next_head_deadline(limits, first, handshaken);
    const bool keep_alive_wait = !first;
    first = false;
    bool started = false;
    RequestLog line;
    line.action = policy::Action::intercept;
    line.host = plan.host;
    line.sni = connection_fields.sni;
    line.tls = connection_fields.tls;
    // Idle = a kept-alive connection waiting for its next request. A new connection (or a fresh
    // TLS session) is about to send its first one, possibly already buffered where the drain
    // cannot see it: it gets the grace period instead.
    connection.tracked.idle = keep_alive_wait && buffer.size() == 0;
    if (connection.tracked.idle && connection.worker.registry().draining()) break;
    // Waiting with nothing buffered: the read buffer's storage goes back to the worker until the
    // next bytes arrive (an idle connection holds no read buffer).
    auto& spares = connection.worker.buffers();
    spares.release(buffer);
    const auto read = co_await read_request_head(client, buffer, scanner, head, deadline, started, &spares);
    connection.tracked.idle = false;
    if (read == HeadRead::closed) break;
    if (read == HeadRead::timed_out || read == HeadRead::invalid) {
      const auto refusal =
          read == HeadRead::invalid ? head_refusal(scanner.error(), policy::Action::intercept)
                                    : policy::Refusal{408, policy::Action::intercept, "request head not received in time"};
      line.bytes_in = buffer.size();  // what was read of the head, counted though refused
      co_await refuse(client, connection, refusal, line);
      break;
    }
    // Each request is decided with the configuration current now (DESIGN: per request).
    const auto runtime = connection.worker.runtime();
    const auto bytes = view_of(buffer);
    line.bytes_in = head.end;
    line.method = head.method.in(bytes);
    line.target = head.target.in(bytes);
    // The client's profile, chosen per request: a reload moves a client at its next request.
    const auto& profile = runtime->policy->profile_for(connection.address);
    auto decision = policy::plan_intercepted_request(*runtime->policy, head, bytes, channel, profile);
    if (const auto* refusal = std::get_if<policy::Refusal>(&decision)) {
      co_await refuse(client, connection, *refusal, line);
      break;
    }
    const auto& forward = std::get<policy::ForwardPlan>(decision);
    // Read now: the exchange moves on past the head in `buffer`.
    const bool sends_auth = policy::sends_connection_auth(bytes.substr(0, head.end));
    auto& sign_in = start_sign_in(connection, *runtime->policy, profile, plan.host_class, line);
    if (!upstream) {
      upstream = pool.take(pool_key, runtime->upstream_tls.get());
      upstream_buffer.clear();
    }
    spares.lend(upstream_buffer);
    const auto pieces = policy::rewrite_head(bytes, head, forward.edits);
    if (!profile.reports()) {
      metrics.spoofed_headers_stripped.add(policy::count_tenant_restriction_lines(head));
      count_rewrite(metrics, plan.host_class, profile.mode);
    }
    auto request = ExchangeRequest::of(head);
    // A pooled connection may have been closed by the server just now; an idempotent request
    // without a body then goes once more on a fresh connection (the head is still unread).
    request.replayable = upstream && policy::replayable_request(line.method, head.framing);
    ExchangeResult result;
    std::optional<policy::ResponseWatch> watch;
    bool dial_failed = false;
    for (;;) {
      if (!upstream) {
        const DialTarget target{plan.host, plan.upstream_port};
        if (auto failure = co_await connection.worker.dialer().dial_tls(upstream, runtime->config(), *runtime->upstream_tls, target)) {
          const auto refusal = policy::dial_refusal(std::move(failure->refusal), policy::DialPurpose::intercept);
          co_await refuse(client, connection, refusal, line);
          dial_failed = true;
          break;
        }
        upstream_buffer.clear();
      }
      connection.tracked.upstream_fd = beast::get_lowest_layer(*upstream).socket().native_handle();
      error_code ignored;
      line.upstream = endpoint_string(beast::get_lowest_layer(*upstream).socket().remote_endpoint(ignored));
      // A retry comes before any response byte, so each attempt watches a fresh response.
      watch.emplace(plan.host_class, services.sign_in.decode_budget);
      result = co_await exchange(client, buffer, request, pieces, *upstream, upstream_buffer,
                                 runtime->config().limits, metrics, &*watch);
      if (!result.retry) break;
      metrics.upstream_pool_retries.add();
      upstream.reset();
      request.replayable = false;
    }
    if (dial_failed) break;
    metrics.upstream_response(plan.host_class, result.upstream_status);
    record_outcome(connection, *watch, sign_in, profile, line);
    line.status = result.status;
    line.bytes_in = std::max<std::uint64_t>(line.bytes_in, result.bytes_from_client);  // the head, even if never sent
    line.bytes_out = result.bytes_to_client;
    line.reason = result.failure;
    connection.log(line);
    const auto fate = policy::upstream_fate({result.upstream_reusable, pinned, result.connection_auth, sends_auth});
    pinned = pinned || result.connection_auth || sends_auth;
    if (fate == policy::UpstreamFate::close) {
      upstream.reset();
      connection.tracked.upstream_fd = -1;
    } else if (fate == policy::UpstreamFate::pool) {
      pool.put(pool_key, std::move(upstream), runtime->upstream_tls);
      connection.tracked.upstream_fd = -1;
    }
    if (!upstream) {  // the upstream buffer's storage goes back too, until the next request
      upstream_buffer.clear();
      spares.release(upstream_buffer);
    }
    if (!result.client_reusable || connection.worker.registry().draining() ||
        !policy::still_intercepted(*connection.runtime().policy, channel)) {
      break;
    }
  }
  if (upstream) co_await close_tls(*upstream);
}

}  // namespace

net::awaitable<void> run_intercept(ClientConnection& connection, beast::tcp_stream& client_tcp,
                                   beast::flat_buffer& buffer, policy::InterceptPlan plan, RequestLog line) {
  auto& services = connection.services;
  auto& metrics = services.metrics;
  const auto runtime = connection.worker.runtime();
  line.action = policy::Action::intercept;
  line.host = plan.host;

  tls::LeafPtr leaf;
  try {
    leaf = co_await services.minter.leaf_for(runtime->leaves, plan.host);
  } catch (const std::exception& error) {
    spdlog::error("{} cannot mint a certificate for {}: {}; closing (fail closed)", connection.peer, plan.host,
                  error.what());
    line.reason = "cannot mint a certificate (fail closed)";
    connection.log(line);
    co_return;
  }
  auto* ca_cert = runtime->leaves->ca().cert();
  TlsSocketStream client(std::move(client_tcp), runtime->server_tls->new_session(*leaf, ca_cert));
  expire_after(client, runtime->config().limits.head_timeout);
  const auto handshake_started = Clock::now();
  auto [handshake_ec, used] = co_await client.async_handshake(net::ssl::stream_base::server, buffer.data(), use_tuple);
  if (handshake_ec) {
    // Counted and logged by reason, so an operator sees clients that do not trust the CA (or pin
    // the real certificate) within minutes.
    const auto failure = handshake_failure_of(handshake_ec);
    metrics.tls_handshake_failure(failure);
    spdlog::info("{} TLS handshake for {} failed: {} ({}); closing (fail closed)", connection.peer, plan.host,
                 tls::to_string(failure), handshake_ec.message());
    // No status: the client never got an HTTP response on this connection, only the alert.
    line.reason = std::string("client TLS handshake failed: ") + tls::to_string(failure) + " for " + plan.host +
                  " (" + handshake_ec.message() + ")";
    line.bytes_in += buffer.size();
    connection.log(line);
    co_return;
  }
  buffer.consume(used);
  metrics.tls_handshakes.add();
  metrics.tls_handshake_latency.observe(std::chrono::duration<double>(Clock::now() - handshake_started).count());
  if (SSL_session_reused(client.native_handle())) metrics.tls_resumptions.add();
  expire_never(client);
  line.tls = SSL_get_version(client.native_handle());
  co_await serve_intercepted(connection, client, buffer, plan, line);
  co_await close_tls(client);
}

}  // namespace trproxy::proxy
