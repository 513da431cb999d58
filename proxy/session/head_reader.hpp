#pragma once
// Reads one request head into the connection's buffer under the head deadlines of
// proxy/transport/deadline.hpp: the wait for a first byte may end the connection quietly; once a head has
// started it must be whole within limits.head_timeout of its first byte (an absolute deadline:
// a client trickling a byte at a time cannot hold a connection open).

#include "config/config.hpp"
#include "policy/http_head.hpp"
#include "proxy/transport/buffer_pool.hpp"
#include "proxy/transport/deadline.hpp"
#include "proxy/transport/io.hpp"

namespace trproxy::proxy {

enum class HeadRead { complete, closed, invalid, timed_out };

struct HeadDeadline {
  Clock::time_point first_byte_by;                      // quiet close when nothing came by then
  std::chrono::milliseconds whole_head;                 // from the first byte
  Clock::time_point latest = Clock::time_point::max();  // the first request: accept + head_timeout
};

// The deadlines of a connection's next request head: the first request must be whole within
// head_timeout of `opened` (accept, or the end of the client's TLS handshake); a kept-alive
// connection waits idle_timeout for the next one, which then has head_timeout from its first byte.
inline HeadDeadline next_head_deadline(const config::Limits& limits, bool first_request, Clock::time_point opened) {
  if (first_request) return {opened + limits.head_timeout, limits.head_timeout, opened + limits.head_timeout};
  return {Clock::now() + limits.idle_timeout, limits.head_timeout};
}

namespace detail {

// Scans what the buffer holds, reading more until the head is complete, broken or closed.
template <class Stream>
net::awaitable<HeadRead> read_rest_of_head(Stream& stream, beast::flat_buffer& buffer, policy::RequestScanner& scanner,
                                           policy::RequestHead& head) {
  for (;;) {
    const auto status = scanner.scan(view_of(buffer), head);
    if (status == policy::ScanStatus::complete) co_return HeadRead::complete;
    if (status == policy::ScanStatus::error) co_return HeadRead::invalid;
    if (read_room(buffer) == 0) co_return HeadRead::invalid;  // the scanner reports head_too_large first
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) co_return HeadRead::closed;
  }
}

}  // namespace detail

// A stream that can wait for input without a buffer (TlsSocketStream) waits first, so an idle
// connection whose empty buffer gave its storage back to `spares` holds none; the buffer takes
// storage from `spares` once bytes arrive.
template <class Stream>
net::awaitable<HeadRead> read_request_head(Stream& stream, beast::flat_buffer& buffer, policy::RequestScanner& scanner,
                                           policy::RequestHead& head, const HeadDeadline& deadline, bool& started,
                                           BufferPool* spares = nullptr) {
  scanner.reset();
  started = buffer.size() > 0;  // pipelined bytes: the head has started
  auto first_byte_at = Clock::now();
  if (!started) {
    const auto now = Clock::now();
    if (deadline.first_byte_by <= now) co_return HeadRead::closed;
    expire_after(stream, std::chrono::duration_cast<std::chrono::milliseconds>(deadline.first_byte_by - now));
    if constexpr (requires { stream.async_wait_input(use_tuple); }) {
      auto [wait_ec] = co_await stream.async_wait_input(use_tuple);
      if (wait_ec) co_return HeadRead::closed;
      if (spares != nullptr) spares->lend(buffer);
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) co_return HeadRead::closed;
    started = true;
    first_byte_at = Clock::now();
  }
  expire_never(stream);
  // The common case: the head came whole with its first read, and no timer is armed at all.
  const auto status = scanner.scan(view_of(buffer), head);
  if (status == policy::ScanStatus::complete) co_return HeadRead::complete;
  if (status == policy::ScanStatus::error) co_return HeadRead::invalid;
  const auto by = std::min(first_byte_at + deadline.whole_head, deadline.latest);
  const auto read = co_await within(by, detail::read_rest_of_head(stream, buffer, scanner, head));
  co_return read.value_or(HeadRead::timed_out);
}

}  // namespace trproxy::proxy
