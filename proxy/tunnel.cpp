#include "proxy/tunnel.hpp"

#include <cerrno>
#include <memory>

#ifdef __linux__
#include <fcntl.h>
#endif

namespace trproxy::proxy {
namespace {

using namespace net::experimental::awaitable_operators;

// One splice(2) moves at most a pipe's default capacity (16 pages); the copy fallback moves one
// TLS record's worth per read.
constexpr std::size_t splice_chunk = 64 * 1024;
constexpr std::size_t copy_chunk = 16 * 1024;

struct Direction {
  tcp::socket& from;
  tcp::socket& to;
  std::uint64_t& total;
  Clock::time_point& last_activity;
  PipePool& pipes;

  // Any failure ends the tunnel: the other direction's pending wait completes at once.
  void close_both() const {
    error_code ignored;
    from.close(ignored);
    to.close(ignored);
  }
  // The client (or server) finished sending: pass the half-close on, keep the other way open.
  void pass_eof() const {
    error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
  }
};

// Copies what is readable now, then returns with the buffer freed. False when the direction has
// ended (EOF passed on, or both sides closed).
net::awaitable<bool> copy_burst(const Direction& d) {
  auto buffer = std::make_unique<char[]>(copy_chunk);
  for (;;) {
    error_code read_ec;
    const auto n = d.from.read_some(net::buffer(buffer.get(), copy_chunk), read_ec);
    if (read_ec == net::error::would_block || read_ec == net::error::try_again) co_return true;
    if (read_ec == net::error::eof) {
      d.pass_eof();
      co_return false;
    }
    if (read_ec) {
      d.close_both();
      co_return false;
    }
    d.last_activity = Clock::now();
    auto [write_ec, written] = co_await net::async_write(d.to, net::buffer(buffer.get(), n), use_tuple);
    d.total += written;
    if (write_ec) {
      d.close_both();
      co_return false;
    }
  }
}

#ifdef __linux__
enum class Spliced { ok, ended, unsupported };

// Moves what is readable now through a pipe from the pool, chunk after chunk until the socket
// has nothing more (at most `burst_chunks` before yielding to the worker's other connections),
// writing each chunk out before the next; the pipe goes back drained.
constexpr int burst_chunks = 16;

net::awaitable<Spliced> splice_burst(const Direction& d) {
  Pipe pipe = d.pipes.take();
  if (!pipe.valid()) co_return Spliced::unsupported;  // out of descriptors: copy this burst
  for (int chunk = 0; chunk < burst_chunks; ++chunk) {
    const ssize_t in = ::splice(d.from.native_handle(), nullptr, pipe.write_end(), nullptr, splice_chunk,
                                SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (in == 0) {
      d.pipes.give(std::move(pipe));
      d.pass_eof();
      co_return Spliced::ended;
    }
    if (in < 0) {
      const int error = errno;
      d.pipes.give(std::move(pipe));
      if (error == EAGAIN || error == EINTR) co_return Spliced::ok;  // drained (or a spurious wake-up)
      if (error == EINVAL || error == ENOSYS) co_return Spliced::unsupported;
      d.close_both();
      co_return Spliced::ended;
    }
    d.last_activity = Clock::now();
    auto pending = static_cast<std::size_t>(in);
    while (pending > 0) {
      const ssize_t out = ::splice(pipe.read_end(), nullptr, d.to.native_handle(), nullptr, pending,
                                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (out > 0) {
        pending -= static_cast<std::size_t>(out);
        d.total += static_cast<std::uint64_t>(out);
        continue;
      }
      if (out < 0 && (errno == EAGAIN || errno == EINTR)) {
        auto [ec] = co_await d.to.async_wait(tcp::socket::wait_write, use_tuple);
        if (!ec) continue;
      }
      d.close_both();  // the pipe still holds bytes: it is closed with this frame, not reused
      co_return Spliced::ended;
    }
  }
  d.pipes.give(std::move(pipe));
  co_return Spliced::ok;
}
#endif

net::awaitable<void> relay_one_way(Direction d) {
  bool splicing = true;
#ifndef __linux__
  splicing = false;
#endif
  for (;;) {
    // No buffer while waiting: an idle direction costs this frame only.
    auto [ec] = co_await d.from.async_wait(tcp::socket::wait_read, use_tuple);
    if (ec) {
      d.close_both();  // cancelled by the idle watchdog, or the socket was closed
      co_return;
    }
#ifdef __linux__
    if (splicing) {
      const auto outcome = co_await splice_burst(d);
      if (outcome == Spliced::ended) co_return;
      if (outcome == Spliced::ok) continue;
      splicing = false;  // the kernel cannot splice these sockets: copy from now on
    }
#endif
    if (!co_await copy_burst(d)) co_return;
  }
}

// Ends the tunnel once nothing has moved either way for the idle timeout: a timer with a plain
// handler (no coroutine, no parallel group), re-armed from the last activity. The state is
// shared with the handler, which may run after the relay has returned: it then does nothing.
struct IdleWatch {
  Clock::time_point last_activity = Clock::now();
  std::chrono::milliseconds timeout;
  tcp::socket* a;
  tcp::socket* b;
  bool done = false;
};

void arm(net::steady_timer& timer, std::shared_ptr<IdleWatch> watch) {
  timer.expires_at(watch->last_activity + watch->timeout);
  timer.async_wait([&timer, watch](const error_code& ec) {
    if (ec || watch->done) return;  // cancelled: the relay is over and `timer` may be gone
    if (Clock::now() < watch->last_activity + watch->timeout) return arm(timer, watch);
    error_code ignored;
    watch->a->close(ignored);  // the relays' waits complete at once and end them
    watch->b->close(ignored);
  });
}

}  // namespace

net::awaitable<RelayTotals> relay_tunnel(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                         std::chrono::milliseconds idle_timeout, PipePool& pipes) {
  client.expires_never();
  upstream.expires_never();
  RelayTotals totals;
  auto& a = client.socket();
  auto& b = upstream.socket();
  error_code ec;
  a.non_blocking(true, ec);  // splice and the copy's reads must never block the worker
  b.non_blocking(true, ec);
  auto watch = std::make_shared<IdleWatch>(IdleWatch{Clock::now(), idle_timeout, &a, &b});
  net::steady_timer timer(co_await net::this_coro::executor);
  arm(timer, watch);
  const Direction up{a, b, totals.client_to_upstream, watch->last_activity, pipes};
  const Direction down{b, a, totals.upstream_to_client, watch->last_activity, pipes};
  // && keeps one direction running after the other reaches EOF (half-close); an error or the
  // idle watch closes both sockets, which ends both.
  co_await (relay_one_way(up) && relay_one_way(down));
  watch->done = true;
  timer.cancel();
  a.close(ec);
  b.close(ec);
  co_return totals;
}

}  // namespace trproxy::proxy
