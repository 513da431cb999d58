#include "proxy/tunnel.hpp"

#include <array>

namespace trproxy::proxy {
namespace {

using namespace net::experimental::awaitable_operators;

constexpr std::size_t relay_buffer_bytes = 16 * 1024;

net::awaitable<void> relay_one_way(tcp::socket& from, tcp::socket& to, std::uint64_t& total,
                                   std::chrono::steady_clock::time_point& last_activity) {
  std::array<char, relay_buffer_bytes> buffer;
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(net::buffer(buffer), use_tuple);
    if (n > 0) {
      last_activity = std::chrono::steady_clock::now();
      auto [write_ec, written] = co_await net::async_write(to, net::buffer(buffer.data(), n), use_tuple);
      total += written;
      if (write_ec) {
        error_code ignored;
        from.close(ignored);
        to.close(ignored);
        co_return;
      }
    }
    if (read_ec == net::error::eof) {
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);  // pass the half-close on
      co_return;
    }
    if (read_ec) {
      error_code ignored;
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
  }
}

net::awaitable<void> idle_watchdog(std::chrono::steady_clock::time_point& last_activity,
                                   std::chrono::milliseconds idle_timeout) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    const auto deadline = last_activity + idle_timeout;
    if (std::chrono::steady_clock::now() >= deadline) co_return;
    timer.expires_at(deadline);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;
  }
}

}  // namespace

net::awaitable<RelayTotals> relay_tunnel(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                         std::chrono::milliseconds idle_timeout) {
  client.expires_never();
  upstream.expires_never();
  RelayTotals totals;
  auto last_activity = std::chrono::steady_clock::now();
  auto& a = client.socket();
  auto& b = upstream.socket();
  // && keeps one direction running after the other reaches EOF (half-close); || lets the
  // watchdog end an idle tunnel and cancels the relays.
  co_await ((relay_one_way(a, b, totals.client_to_upstream, last_activity) &&
             relay_one_way(b, a, totals.upstream_to_client, last_activity)) ||
            idle_watchdog(last_activity, idle_timeout));
  error_code ignored;
  a.close(ignored);
  b.close(ignored);
  co_return totals;
}

}  // namespace trproxy::proxy
