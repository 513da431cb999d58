#include "proxy/transport/relay.hpp"

#include <cerrno>
#include <memory>

#ifdef __linux__
#include <fcntl.h>
#endif

namespace trproxy::proxy {
namespace {

// One splice(2) moves at most a pipe's default capacity (16 pages); the copy fallback moves one
// TLS record's worth per read.
constexpr std::size_t splice_chunk = 64 * 1024;
constexpr std::size_t copy_chunk = 16 * 1024;
// Chunks one direction moves before letting the worker's other connections run.
constexpr int burst_chunks = 16;

// What the two directions of one tunnel share: the idle clock, and the timer relay_tunnel waits
// on, cancelled when the last direction ends.
struct RelayShared {
  Clock::time_point last_activity = Clock::now();
  int running = 2;
  net::steady_timer& timer;
};

// One direction, driven by plain completion handlers: no coroutine, no buffer and no pipe while
// it waits, so an idle direction costs one pending socket wait. It reads nothing more until what
// it read has been written (back-pressure); a failure closes both sockets, which ends the other
// direction's wait at once.
class Direction {
 public:
  Direction(tcp::socket& from, tcp::socket& to, std::uint64_t& total, RelayShared& shared, PipePool& pipes)
      : from_(from), to_(to), total_(total), shared_(shared), pipes_(pipes) {}
  Direction(const Direction&) = delete;
  Direction& operator=(const Direction&) = delete;

  void start() { wait_readable(); }

 private:
  enum class Moved { some, nothing_now, ended, failed };

  void wait_readable() {
    from_.async_wait(tcp::socket::wait_read, [this](const error_code& ec) { ec ? fail() : move_burst(); });
  }
  void wait_writable() {
    to_.async_wait(tcp::socket::wait_write, [this](const error_code& ec) { ec ? fail() : move_burst(); });
  }

  // Writes out what is held, then reads and writes chunk after chunk until the socket has
  // nothing more, the receiver cannot take more, or the burst's share is used.
  void move_burst() {
    for (int chunk = 0; chunk < burst_chunks; ++chunk) {
      switch (flush()) {
        case Moved::nothing_now: return wait_writable();
        case Moved::failed: return fail();
        default: break;
      }
      switch (fill()) {
        case Moved::nothing_now: release(); return wait_readable();
        case Moved::ended: release(); return pass_eof();
        case Moved::failed: return fail();
        default: break;
      }
    }
    // More may be waiting, but no new readiness edge will say so: go on after the others ran.
    net::post(from_.get_executor(), [this] { move_burst(); });
  }

  // Reads what the socket holds now (one chunk) into the pipe or the copy buffer.
  Moved fill() {
#ifdef __linux__
    if (splicing_) {
      if (!pipe_.valid()) pipe_ = pipes_.take();
      if (pipe_.valid()) {
        const ssize_t in = ::splice(from_.native_handle(), nullptr, pipe_.write_end(), nullptr, splice_chunk,
                                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (in > 0) return took(static_cast<std::size_t>(in));
        if (in == 0) return Moved::ended;
        if (errno == EAGAIN || errno == EINTR) return Moved::nothing_now;
        if (errno != EINVAL && errno != ENOSYS) return Moved::failed;
        splicing_ = false;  // the kernel cannot splice these sockets: copy from now on
        pipe_ = Pipe();
      }
      // No pipe (out of descriptors): this chunk is copied, the next one spliced again.
    }
#endif
    if (!copy_) copy_ = std::make_unique<char[]>(copy_chunk);
    error_code ec;
    const auto n = from_.read_some(net::buffer(copy_.get(), copy_chunk), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) return Moved::nothing_now;
    if (ec == net::error::eof) return Moved::ended;
    if (ec) return Moved::failed;
    copy_from_ = 0;
    return took(n);
  }

  Moved took(std::size_t n) {
    held_ = n;
    shared_.last_activity = Clock::now();
    return Moved::some;
  }

  // Writes what fill() took (in the pipe when one is held, else in the copy buffer);
  // nothing_now when the receiver's socket is full.
  Moved flush() {
    while (held_ > 0) {
      std::size_t out = 0;
#ifdef __linux__
      if (pipe_.valid()) {
        const ssize_t n =
            ::splice(pipe_.read_end(), nullptr, to_.native_handle(), nullptr, held_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? Moved::nothing_now : Moved::failed;
        out = static_cast<std::size_t>(n);
      }
#endif
      if (!pipe_.valid()) {
        error_code ec;
        out = to_.write_some(net::buffer(copy_.get() + copy_from_, held_), ec);
        if (ec == net::error::would_block || ec == net::error::try_again) return Moved::nothing_now;
        if (ec) return Moved::failed;
        copy_from_ += out;
      }
      held_ -= out;
      total_ += out;
    }
    return Moved::some;
  }

  // Nothing is held: the pipe goes back to the pool and the copy buffer is freed.
  void release() {
    if (pipe_.valid()) pipes_.give(std::move(pipe_));
    copy_.reset();
  }

  // The sender finished: pass the half-close on and keep the other way open.
  void pass_eof() {
    error_code ignored;
    to_.shutdown(tcp::socket::shutdown_send, ignored);
    end();
  }

  void fail() {
    error_code ignored;
    from_.close(ignored);
    to_.close(ignored);
    end();
  }

  void end() {
    pipe_ = Pipe();  // a pipe that may still hold bytes is closed, never reused
    copy_.reset();
    if (--shared_.running == 0) shared_.timer.cancel();
  }

  tcp::socket& from_;
  tcp::socket& to_;
  std::uint64_t& total_;
  RelayShared& shared_;
  PipePool& pipes_;
  bool splicing_ = true;          // until the kernel refuses to splice these sockets (Linux)
  Pipe pipe_;                     // held only while bytes are in it
  std::unique_ptr<char[]> copy_;  // likewise, when copying
  std::size_t copy_from_ = 0;
  std::size_t held_ = 0;  // bytes read and not yet written
};

}  // namespace

net::awaitable<RelayTotals> relay_tunnel(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                         std::chrono::milliseconds idle_timeout, PipePool& pipes) {
  client.expires_never();
  upstream.expires_never();
  RelayTotals totals;
  auto& a = client.socket();
  auto& b = upstream.socket();
  error_code ec;
  a.non_blocking(true, ec);  // splice and the copy's reads and writes must never block the worker
  b.non_blocking(true, ec);
  net::steady_timer timer(co_await net::this_coro::executor);
  RelayShared shared{Clock::now(), 2, timer};
  Direction up(a, b, totals.client_to_upstream, shared, pipes);
  Direction down(b, a, totals.upstream_to_client, shared, pipes);
  up.start();
  down.start();
  // This coroutine is the tunnel's idle watchdog and waits for both directions: its timer is
  // re-armed from the last activity, and cancelled by the direction that ends last. The
  // directions refer to this frame, so it returns only once neither has an operation pending.
  bool closed = false;
  while (shared.running > 0) {
    timer.expires_at(closed ? Clock::time_point::max() : shared.last_activity + idle_timeout);
    co_await timer.async_wait(use_tuple);
    if (shared.running > 0 && !closed && Clock::now() >= shared.last_activity + idle_timeout) {
      a.close(ec);  // the directions' waits complete at once and end them
      b.close(ec);
      closed = true;
    }
  }
  a.close(ec);
  b.close(ec);
  co_return totals;
}

}  // namespace trproxy::proxy
