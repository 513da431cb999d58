#pragma once
// Helpers for engine tests over in-memory streams (beast::test::stream): no sockets, no
// threads, every case on its own io_context, run for a bounded time.

#include "proxy/transport/io.hpp"

#include <boost/beast/_experimental/test/stream.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <string_view>

namespace trproxy::test {

namespace net = proxy::net;
namespace beast = proxy::beast;
using proxy::use_tuple;
using TestStream = beast::test::stream;
using namespace std::chrono_literals;

// Spawns a coroutine on `ioc`; an exception it throws escapes io_context::run and fails the case.
template <class Awaitable>
void spawn(net::io_context& ioc, Awaitable&& awaitable) {
  net::co_spawn(ioc, std::forward<Awaitable>(awaitable), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  });
}

// Everything the peer sends until it closes (or the read is aborted).
inline net::awaitable<std::string> read_to_eof(TestStream& stream) {
  std::string out;
  char chunk[4096];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(net::buffer(chunk), use_tuple);
    out.append(chunk, n);
    if (ec) break;
  }
  co_return out;
}

// Exactly `size` bytes, or fewer when the peer closes first.
inline net::awaitable<std::string> read_exactly(TestStream& stream, std::size_t size) {
  std::string out(size, '\0');
  auto [ec, n] = co_await net::async_read(stream, net::buffer(out), use_tuple);
  out.resize(n);
  co_return out;
}

inline net::awaitable<void> write_all(TestStream& stream, std::string_view text) {
  auto [ec, n] = co_await net::async_write(stream, net::buffer(text.data(), text.size()), use_tuple);
  REQUIRE_FALSE(ec);
}

}  // namespace trproxy::test
