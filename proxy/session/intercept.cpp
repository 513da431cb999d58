#include "proxy/session/intercept.hpp"

#include "policy/connection_auth.hpp"
#include "policy/request_decision.hpp"
#include "policy/rewrite.hpp"
#include "policy/upstream_decision.hpp"
#include "proxy/session/exchange.hpp"
#include "proxy/session/exchange_log.hpp"
#include "proxy/session/head_reader.hpp"
#include "proxy/session/request_loop.hpp"
#include "proxy/session/sign_in_outcome.hpp"
#include "proxy/transport/stream_relay.hpp"
#include "proxy/transport/tls_socket_stream.hpp"
#include "proxy/upstream/dialer.hpp"
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

// An enforcing profile's request: the client's copies it strips and the rewrite it makes. A
// report profile forwards the head unchanged, so neither is counted.
void count_rewrite(Metrics& metrics, const policy::RequestHead& head, policy::HostClass host_class,
                   const policy::ProfileRules& profile) {
  if (profile.reports()) return;
  metrics.spoofed_headers_stripped.add(policy::count_tenant_restriction_lines(head));
  const bool v1 = profile.mode == config::Mode::v1;
  if (host_class == policy::HostClass::app) return;  // counted per app (trproxy_app_requests_total)
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

// The upstream side of an intercepted connection. A connection comes from the worker's pool for
// each request and goes back after it; one is held across requests only when pinned (it carried
// NTLM/Negotiate authentication, which belongs to this client connection alone).
class InterceptedUpstream {
 public:
  InterceptedUpstream(ClientConnection& connection, const policy::InterceptPlan& plan)
      : connection_(connection),
        plan_(plan),
        pool_key_(plan.host + ":" + std::to_string(plan.upstream_port)),
        buffer_(connection.config().limits.max_head_bytes) {}

  // Before a request: a pooled connection if one is idle (else the exchange dials), and the
  // read buffer's storage. True when the connection is a reused one.
  bool prepare(const Runtime& runtime) {
    // A connection kept for this client (pinned) is checked as the pool checks its own: bytes
    // after the last response, or the server's close, end it and the request dials anew.
    if (stream_ && has_unread_input(*stream_)) drop();
    if (!stream_) {
      stream_ = connection_.worker.pool().take(pool_key_, runtime.upstream_tls.get());
      buffer_.clear();
    }
    connection_.worker.buffers().lend(buffer_);
    return stream_ != nullptr;
  }

  [[nodiscard]] bool held() const { return stream_ != nullptr; }

  // A new verified connection to the sign-in host. False when the dial failed and the client was
  // answered.
  net::awaitable<bool> dial(TlsSocketStream& client, const Runtime& runtime, RequestLog& line) {
    const DialTarget target{plan_.host, plan_.upstream_port};
    auto& dialer = connection_.worker.dialer();
    if (auto failure = co_await dialer.dial_tls(stream_, runtime.config(), *runtime.upstream_tls, target)) {
      const auto refusal = policy::dial_refusal(std::move(failure->refusal), policy::DialPurpose::intercept);
      co_await refuse(client, connection_, refusal, line);
      co_return false;
    }
    buffer_.clear();
    co_return true;
  }

  // The held connection is this request's: tracked for drain, named on the access line.
  void use(RequestLog& line) {
    auto& socket = beast::get_lowest_layer(*stream_).socket();
    connection_.tracked.upstream_fd = socket.native_handle();
    error_code ignored;
    line.upstream = endpoint_string(socket.remote_endpoint(ignored));
  }

  TlsSocketStream& stream() { return *stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  void drop() { stream_.reset(); }  // a reused connection found dead: the retry dials anew

  // After the exchange: closed, back to the pool, or kept for this client (policy::upstream_fate).
  void settle(const ExchangeResult& result, bool sent_credentials, const Runtime& runtime) {
    const auto fate =
        policy::upstream_fate({result.upstream_reusable, pinned_, result.connection_auth, sent_credentials});
    pinned_ = pinned_ || result.connection_auth || sent_credentials;
    if (fate == policy::UpstreamFate::pool)
      connection_.worker.pool().put(pool_key_, std::move(stream_), runtime.upstream_tls);
    if (fate == policy::UpstreamFate::close) stream_.reset();
    if (stream_) return;
    connection_.tracked.upstream_fd = -1;
    buffer_.clear();  // the buffer's storage goes back too, until the next request
    connection_.worker.buffers().release(buffer_);
  }

  net::awaitable<void> close() {
    if (stream_) co_await close_tls(*stream_);
  }

  // After a 101 the request asked for: both directions relayed as bytes until either side closes
  // or neither moves one for limits.tunnel_idle_timeout; counted into `result`. Ends the
  // upstream connection.
  net::awaitable<void> relay_switched(TlsSocketStream& client, beast::flat_buffer& client_buffer,
                                      const config::Limits& limits, ExchangeResult& result) {
    expire_never(client);
    expire_never(*stream_);
    const auto totals = co_await relay_streams(client, client_buffer, *stream_, buffer_, limits.tunnel_idle_timeout);
    result.bytes_from_client += totals.client_to_upstream;
    result.bytes_to_client += totals.upstream_to_client;
    drop();
    connection_.tracked.upstream_fd = -1;
  }

 private:
  ClientConnection& connection_;
  const policy::InterceptPlan& plan_;
  std::string pool_key_;
  std::unique_ptr<TlsSocketStream> stream_;
  beast::flat_buffer buffer_;
  bool pinned_ = false;
};

// Whether `policy` still intercepts the connection's host for its client's profile (a reload
// may change either).
bool still_intercepted_for(const policy::Policy& policy, const policy::InterceptedChannel& channel,
                           const config::IpAddress& client) {
  return policy::still_intercepted(policy, channel, policy.profile_for(client));
}

// A reload that stops intercepting the host ends an idle connection now; a busy one closes after
// its current response (serve_intercepted checks).
void recheck_on_reload(ClientConnection& connection, const policy::InterceptedChannel& channel) {
  connection.tracked.still_allowed = [&tracked = connection.tracked, channel,
                                      client = connection.address](const Runtime& next) {
    return !tracked.idle || still_intercepted_for(*next.policy, channel, client);
  };
}

// A request's access line starts with what every line of the connection repeats.
RequestLog request_line_of(const policy::InterceptPlan& plan, const RequestLog& connection_fields) {
  RequestLog line;
  line.action = policy::Action::intercept;
  line.host = plan.host;
  line.sni = connection_fields.sni;
  line.tls = connection_fields.tls;
  return line;
}

// The request loop over an established client TLS stream.
// `connection_fields` holds what every line of this connection repeats (SNI, TLS version).
net::awaitable<void> serve_intercepted(ClientConnection& connection, TlsSocketStream& client,
                                       beast::flat_buffer& buffer, const policy::InterceptPlan& plan,
                                       const RequestLog& connection_fields) {
  auto& metrics = connection.services.metrics;
  const policy::InterceptedChannel channel{plan.host, plan.host_class, plan.upstream_port, plan.app};
  recheck_on_reload(connection, channel);
  InterceptedUpstream upstream(connection, plan);
  RequestLoop loop(connection, client, buffer, Clock::now(), &connection.worker.buffers());
  const auto& head = loop.head();
  for (;;) {
    auto line = request_line_of(plan, connection_fields);
    if (!loop.start_next()) break;
    const auto read = co_await loop.read();
    loop.read_done();
    if (read == HeadRead::closed) break;
    if (read == HeadRead::timed_out || read == HeadRead::invalid) {
      const auto refusal = loop.refusal_for(read, policy::Action::intercept);
      line.bytes_in = buffer.size();  // what was read of the head, counted though refused
      co_await refuse(client, connection, refusal, line);
      break;
    }
    // Each request is decided with the configuration current now (DESIGN: per request); the
    // client's profile too, so a reload moves a client at its next request.
    const auto runtime = connection.worker.runtime();
    const auto bytes = view_of(buffer);
    line.bytes_in = head.end;
    line.method = head.method.in(bytes);
    line.target = head.target.in(bytes);
    const auto& profile = runtime->policy->profile_for(connection.address);
    auto decision = policy::plan_intercepted_request(*runtime->policy, head, bytes, channel, profile);
    if (const auto* refusal = std::get_if<policy::Refusal>(&decision)) {
      co_await refuse(client, connection, *refusal, line);
      break;
    }
    const auto& forward = std::get<policy::ForwardPlan>(decision);
    // Read now: the exchange moves on past the head in `buffer`.
    const bool sends_auth = policy::sends_connection_auth(bytes.substr(0, head.end));
    const auto outcome = start_sign_in(connection, *runtime->policy, profile, plan.host_class, plan.app, line);
    auto request = ExchangeRequest::of(head, *runtime->policy);
    request.replayable = upstream.prepare(*runtime) && policy::replayable_request(line.method, head.framing);
    request.may_switch_protocols = policy::relays_protocol_switch(plan.host_class, head);
    const auto pieces = policy::rewrite_head(bytes, head, forward.edits);
    count_rewrite(metrics, head, plan.host_class, profile);
    // A pooled connection may have been closed by the server just now; an idempotent request
    // without a body then goes once more on a fresh connection (the head is still unread).
    std::optional<policy::ResponseWatch> watch;
    ExchangeResult result;
    bool dialled = true;
    for (;;) {
      if (!upstream.held() && !co_await upstream.dial(client, *runtime, line)) {
        dialled = false;
        break;
      }
      upstream.use(line);
      // A retry comes before any response byte, so each attempt watches a fresh response.
      watch.emplace(response_watch_for(connection, *runtime->policy, outcome));
      result = co_await exchange(client, buffer, request, pieces, upstream.stream(), upstream.buffer(),
                                 runtime->config().limits, metrics, &*watch);
      if (!result.retry) break;
      metrics.upstream_pool_retries.add();
      upstream.drop();
      request.replayable = false;
    }
    if (!dialled) break;
    record_outcome(connection, *runtime->policy, *watch, outcome, profile, result.upstream_status, line);
    if (result.switched) co_await upstream.relay_switched(client, buffer, runtime->config().limits, result);
    log_exchange(connection, plan.host_class, result, line);
    if (result.switched) break;  // the connection carried another protocol to its end
    upstream.settle(result, sends_auth, *runtime);
    if (!result.client_reusable || connection.worker.registry().draining() ||
        !still_intercepted_for(*connection.runtime().policy, channel, connection.address)) {
      break;
    }
  }
  co_await upstream.close();
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
    line.reason = std::string("client TLS handshake failed: ") + tls::to_string(failure) + " for " + plan.host + " (" +
                  handshake_ec.message() + ")";
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
