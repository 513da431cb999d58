#include "proxy/session/connect.hpp"

#include "policy/tunnel_decision.hpp"
#include "policy/upstream_decision.hpp"
#include "proxy/session/intercept.hpp"
#include "proxy/transport/deadline.hpp"
#include "proxy/transport/relay.hpp"
#include "proxy/upstream/dialer.hpp"
#include "tls/client_hello.hpp"

#include <spdlog/spdlog.h>

namespace trproxy::proxy {
namespace {

struct Peek {
  policy::HelloKind kind = policy::HelloKind::silent;
  std::string sni;
  bool client_closed = false;
  // A view into this object: build it only once the Peek has stopped moving.
  [[nodiscard]] policy::HelloFacts facts() const { return {kind, sni}; }
};

// Reads until the ClientHello is whole (or clearly not one), without consuming anything: the
// bytes are replayed to the TLS handshake or the tunnel.
net::awaitable<Peek> read_client_hello(beast::tcp_stream& client, beast::flat_buffer& buffer) {
  Peek peek;
  for (;;) {
    auto hello = tls::peek_client_hello(view_of(buffer));
    switch (hello.status) {
      case tls::HelloStatus::sni:
        peek.kind = policy::HelloKind::sni;
        peek.sni = std::move(hello.host);
        co_return peek;
      case tls::HelloStatus::no_sni: peek.kind = policy::HelloKind::no_sni; co_return peek;
      case tls::HelloStatus::not_tls: peek.kind = policy::HelloKind::not_tls; co_return peek;
      case tls::HelloStatus::malformed: peek.kind = policy::HelloKind::malformed; co_return peek;
      case tls::HelloStatus::need_more: break;
    }
    if (buffer.size() >= tls::max_client_hello_wire_bytes || read_room(buffer) == 0) {
      peek.kind = policy::HelloKind::malformed;  // larger than the proxy reads: fail closed
      co_return peek;
    }
    auto [ec, n] = co_await client.async_read_some(buffer.prepare(read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) {
      peek.client_closed = true;
      co_return peek;
    }
  }
}

// Dials the destination of a CONNECT that is not intercepted; false when it failed and the client
// was answered.
net::awaitable<bool> dial_tunnel(ClientConnection& connection, beast::tcp_stream& client, const config::Config& config,
                                 const policy::ConnectTarget& target, beast::tcp_stream& upstream, RequestLog& line) {
  if (auto failure = co_await connection.worker.dialer().dial(upstream, config, {target.host, target.port})) {
    const auto refusal = policy::dial_refusal(std::move(failure->refusal), policy::DialPurpose::tunnel);
    co_await refuse(client, connection, refusal, line);
    co_return false;
  }
  connection.tracked.upstream_fd = upstream.socket().native_handle();
  error_code ignored;
  line.upstream = endpoint_string(upstream.socket().remote_endpoint(ignored));
  co_return true;
}

// Blind tunnel: replay what the client already sent, then relay both ways until either side
// ends, the idle timeout, or a reload that no longer allows it.
net::awaitable<void> relay_blind(ClientConnection& connection, beast::tcp_stream& client, beast::tcp_stream& upstream,
                                 beast::flat_buffer& buffer, const config::Limits& limits, std::string host,
                                 std::string sni, RequestLog line) {
  connection.tracked.still_allowed = [host, sni, client = connection.address](const Runtime& next) {
    return policy::tunnel_still_allowed(*next.policy, host, sni, next.policy->profile_for(client));
  };
  const std::uint64_t early = buffer.size();
  if (early > 0) {
    expire_after(upstream, limits.idle_timeout);
    auto [ec, n] = co_await net::async_write(upstream, buffer.data(), use_tuple);
    if (ec) co_return;
    buffer.consume(n);
  }
  buffer.shrink_to_fit();  // the peek's buffer is not needed again: an idle tunnel holds none
  const auto totals = co_await relay_tunnel(client, upstream, limits.tunnel_idle_timeout, connection.worker.pipes());
  line.action = policy::Action::tunnel;
  line.status = connection.transparent ? 0 : 200;  // a transparent client was never answered
  line.bytes_in += early + totals.client_to_upstream;
  line.bytes_out += totals.upstream_to_client;
  connection.log(line);
}

// What the sign-in address guard did, where it looked at all: counted, on the line, and a
// warning for a tunnel it only logged.
void note_guard(ClientConnection& connection, const policy::ConnectTarget& target, const policy::GuardDecision& guard,
                RequestLog& line) {
  if (guard.outcome == policy::GuardOutcome::not_guarded) return;
  connection.services.metrics.sign_in_guard(guard.outcome);
  line.reason = guard.reason;
  if (guard.outcome == policy::GuardOutcome::logged) {
    spdlog::warn("{} CONNECT {}: {}; tunnelled (sign_in_guard.action: log)", connection.peer, target.host,
                 guard.reason);
  }
}

}  // namespace

net::awaitable<void> run_connect(ClientConnection& connection, beast::tcp_stream& client, beast::flat_buffer& buffer,
                                 policy::ConnectTarget target, RequestLog line) {
  const auto runtime = connection.worker.runtime();  // this CONNECT's decisions use one snapshot
  const auto& limits = runtime->config().limits;
  line.host = target.host;

  // A CONNECT dials first, so that a failure is still an HTTP answer. A transparent flow has
  // nobody to answer: it dials only once its first bytes say it is a tunnel, so an intercepted
  // flow never touches the destination the client chose.
  std::optional<beast::tcp_stream> upstream;
  if (!policy::is_intercepted(target.host_class) && !connection.transparent) {
    upstream.emplace(co_await net::this_coro::executor);
    if (!co_await dial_tunnel(connection, client, runtime->config(), target, *upstream, line)) co_return;
  }
  // A transparent flow never sent a CONNECT: its first bytes are already on their way.
  if (!connection.transparent) {
    expire_after(client, limits.head_timeout);
    const std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (co_await write_text(client, established)) co_return;
    line.bytes_out += established.size();
  }
  expire_never(client);

  // The peek deadline cancels the read but leaves the socket open: a silent client of an
  // ordinary host gets its tunnel (server-speaks-first protocols).
  const auto peek_time = policy::peek_time(target.host_class, limits.head_timeout);
  auto peek = co_await within(Clock::now() + peek_time, read_client_hello(client, buffer));
  if (peek && peek->client_closed) {
    line.action = policy::closed_before_hello(target.host_class);
    line.status = connection.transparent ? 0 : 200;
    line.reason = "client closed before sending anything";
    connection.log(line);
    co_return;
  }
  if (!peek) {
    peek.emplace();  // silent, unless the client began a ClientHello and stalled: only bytes that
                     // start a TLS record keep the peek waiting, so any byte here is a partial hello
    if (buffer.size() > 0) peek->kind = policy::HelloKind::incomplete;
  }
  line.sni = peek->sni;

  // The address the tunnel would reach, whatever name led there (DESIGN: sign-in address guard).
  std::optional<policy::GuardDestination> destination;
  if (upstream) {
    destination =
        co_await connection.worker.dialer().guard_destination(*upstream, runtime->config(), {target.host, target.port});
  } else if (connection.transparent) {
    destination = policy::GuardDestination{{*config::parse_ip(target.host)}, false};  // the original destination
  }
  const auto decision =
      policy::decide_tunnel(*runtime->policy, target, peek->facts(), destination ? &*destination : nullptr,
                            runtime->policy->profile_for(connection.address));
  const auto& plan = decision.plan;
  note_guard(connection, target, decision.guard, line);
  if (const auto* intercept = std::get_if<policy::InterceptPlan>(&plan)) {
    upstream.reset();
    connection.tracked.upstream_fd = -1;
    co_await run_intercept(connection, client, buffer, *intercept, std::move(line));
    co_return;
  }
  if (const auto* refusal = std::get_if<policy::Refusal>(&plan)) {
    spdlog::info("{} CONNECT {}: {}; closing", connection.peer, target.host, refusal->reason);
    line.bytes_in += buffer.size();  // the ClientHello (or whatever came) that was read
    co_await refuse(client, connection, *refusal, line);
    co_return;
  }

  // A tunnel has its dialled upstream (a CONNECT's), or dials it now (a transparent flow's).
  if (!upstream) {
    upstream.emplace(co_await net::this_coro::executor);
    if (!co_await dial_tunnel(connection, client, runtime->config(), target, *upstream, line)) co_return;
  }
  co_await relay_blind(connection, client, *upstream, buffer, limits, target.host, peek->sni, std::move(line));
}

}  // namespace trproxy::proxy
