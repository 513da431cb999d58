#pragma once
// Deadlines, one kind per phase of a connection. Two mechanisms, chosen by what a timeout must
// do to the socket:
//
// | phase                          | bound                                   | on expiry                 | how |
// |--------------------------------|-----------------------------------------|---------------------------|--------------|
// | first request head             | limits.head_timeout from accept          | close (silent client)     |
// expires_after| | next head on a kept-alive conn | limits.idle_timeout until the first byte | close | expires_after|
// | rest of a request head         | limits.head_timeout from its first byte  | 408, then close           | within() |
// | ClientHello peek               | head_timeout (sign-in) / 3 s (other)     | socket stays open: decide | within() |
// | DNS + connect, all addresses   | upstream.connect_timeout, together; each | 504                       | within() |
// |                                | address gets its share of the time left  | next address              | within() |
// | idle pooled upstream           | 30 s (PoolLimits)                        | closed, evicted           |
// steady_timer | | upstream TLS handshake         | upstream.connect_timeout                 | 502/504 | expires_after|
// | client TLS handshake           | limits.head_timeout                      | close                     |
// expires_after| | upstream response head         | limits.upstream_response_timeout         | 504, close |
// expires_after| | request/response body          | limits.idle_timeout without progress     | close both |
// expires_after| | tunnel                         | limits.tunnel_idle_timeout without bytes | close both | watchdog |
// | drain                          | limits.shutdown_grace after SIGTERM      | close every connection    | registry |
//
// Beast's tcp_stream timer closes the socket when it fires, which is right where a timeout ends
// the connection anyway (and it costs nothing when the first read completes). within() races an
// operation against a timer with `||` (Boost 1.81 has no cancel_after): the loser is cancelled,
// the socket stays open, and one deadline can span many reads.

#include "proxy/transport/io.hpp"

#include <optional>
#include <tuple>
#include <utility>
#include <variant>

namespace trproxy::proxy {

// Runs `operation` until `deadline`; nullopt when the deadline came first (the operation was
// cancelled, its socket is still open).
template <class T>
net::awaitable<std::optional<T>> within(Clock::time_point deadline, net::awaitable<T> operation) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  auto outcome = co_await (std::move(operation) || timer.async_wait(use_tuple));
  if (outcome.index() == 0) co_return std::optional<T>(std::move(std::get<0>(outcome)));
  co_return std::nullopt;
}

// The same for an operation that returns nothing: true when it finished in time.
inline net::awaitable<bool> within(Clock::time_point deadline, net::awaitable<void> operation) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  auto outcome = co_await (std::move(operation) || timer.async_wait(use_tuple));
  co_return outcome.index() == 0;
}

}  // namespace trproxy::proxy
