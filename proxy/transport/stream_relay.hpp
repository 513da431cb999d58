#pragma once
// A byte relay between two streams of any layers (TLS on both sides after a protocol switch on an
// intercepted connection: DESIGN.md, "Tenant control for other SaaS apps", WebSocket). Unlike
// relay_tunnel it reads and writes through the streams (the bytes must pass OpenSSL); like it,
// both directions run at once, each reads no more until what it read is written (back-pressure,
// one buffer per direction), and an idle watchdog ends both sides when neither has moved a byte
// for `idle_timeout`. When either direction ends, both connections are closed: a protocol that
// ran over the switch has finished with its own close handshake by then.

#include "proxy/transport/io.hpp"
#include "proxy/transport/relay.hpp"
#include "proxy/transport/stream_ops.hpp"

#include <chrono>

namespace trproxy::proxy {
namespace detail {

struct StreamRelayState {
  Clock::time_point last_activity = Clock::now();
  unsigned directions_running = 2;
  net::steady_timer watchdog;
};

// One direction: what `from_buffer` already holds, then whatever `from` sends, into `to`.
template <class From, class To>
net::awaitable<std::uint64_t> relay_direction(From& from, beast::flat_buffer& from_buffer, To& to,
                                              StreamRelayState& state) {
  std::uint64_t moved = 0;
  for (;;) {
    if (from_buffer.size() > 0) {
      auto [ec, n] = co_await net::async_write(to, from_buffer.data(), use_tuple);
      moved += n;
      from_buffer.consume(n);
      state.last_activity = Clock::now();
      if (ec) break;
    }
    auto [ec, n] = co_await from.async_read_some(from_buffer.prepare(read_room(from_buffer)), use_tuple);
    from_buffer.commit(n);
    if (n > 0) state.last_activity = Clock::now();
    if (ec && n == 0) break;
  }
  close_lowest(from);
  close_lowest(to);
  if (--state.directions_running == 0) state.watchdog.cancel();
  co_return moved;
}

template <class A, class B>
net::awaitable<void> relay_watchdog(A& a, B& b, StreamRelayState& state, std::chrono::milliseconds idle) {
  while (state.directions_running > 0) {
    state.watchdog.expires_at(state.last_activity + idle);
    auto [ec] = co_await state.watchdog.async_wait(use_tuple);
    if (state.directions_running == 0) break;
    if (!ec && Clock::now() - state.last_activity >= idle) {
      close_lowest(a);  // both directions' reads fail and end
      close_lowest(b);
      break;
    }
  }
}

template <class Client, class Upstream>
net::awaitable<RelayTotals> relay_both(Client& client, beast::flat_buffer& client_buffer, Upstream& upstream,
                                       beast::flat_buffer& upstream_buffer, StreamRelayState& state) {
  using namespace net::experimental::awaitable_operators;
  auto [up, down] = co_await (relay_direction(client, client_buffer, upstream, state) &&
                              relay_direction(upstream, upstream_buffer, client, state));
  co_return RelayTotals{up, down};
}

}  // namespace detail

// `client_buffer` and `upstream_buffer` hold bytes already read from each side and not yet
// forwarded; they go first. Neither stream may have a deadline set (expire_never).
template <class Client, class Upstream>
net::awaitable<RelayTotals> relay_streams(Client& client, beast::flat_buffer& client_buffer, Upstream& upstream,
                                          beast::flat_buffer& upstream_buffer, std::chrono::milliseconds idle) {
  using namespace net::experimental::awaitable_operators;
  detail::StreamRelayState state{Clock::now(), 2, net::steady_timer(co_await net::this_coro::executor)};
  co_return co_await (detail::relay_both(client, client_buffer, upstream, upstream_buffer, state) &&
                      detail::relay_watchdog(client, upstream, state, idle));
}

}  // namespace trproxy::proxy
