#pragma once
// What the engine does to a connection whatever its layers (TLS over a socket, a Beast
// tcp_stream, or an in-memory test stream): end it, stop its reads, and ask whether the peer's
// bytes are still unread below the parser. One concept names the seam between real sockets and
// test streams, instead of a `requires` probe at every use.

#include "proxy/transport/io.hpp"

#include <poll.h>

namespace trproxy::proxy {

// The lowest layer is a real socket (not an in-memory test stream).
template <class Lowest>
concept HasSocket = requires(Lowest& lowest) {
  lowest.socket();
};

// Runs `on_socket` on the socket under the stream's layers. An in-memory test stream has none
// and cannot cancel a read without closing, so it is closed instead.
template <class Stream, class OnSocket>
void with_socket_or_close(Stream& stream, OnSocket on_socket) {
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (HasSocket<decltype(lowest)>) {
    on_socket(lowest.socket());
  } else {
    lowest.close();
  }
}

// Ends a connection: the socket under any layers (TLS, tcp_stream), or an in-memory test stream.
template <class Stream>
void close_lowest(Stream& stream) {
  with_socket_or_close(stream, [](auto& socket) {
    error_code ignored;
    socket.close(ignored);
  });
}

// Stops the reads pending on a connection (callers use this only when the connection will not
// be reused: a test stream is closed).
template <class Stream>
void cancel_reads(Stream& stream) {
  with_socket_or_close(stream, [](auto& socket) {
    error_code ignored;
    socket.cancel(ignored);
  });
}

// True when anything the peer sent is still unread below the HTTP parser: the connection is
// closed, the kernel holds bytes (or the FIN), or the TLS layer holds a record, decrypted or
// not. A connection kept for the next request must have none: those bytes would be read as the
// answer to a request they were never meant for.
template <class Stream>
bool has_unread_input(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (HasSocket<decltype(lowest)>) {
    if (!lowest.socket().is_open()) return true;
    pollfd probe{lowest.socket().native_handle(), POLLIN, 0};
    if (::poll(&probe, 1, 0) != 0) return true;
  }
  if constexpr (requires { stream.holds_input(); }) {
    if (stream.holds_input()) return true;
  }
  return false;
}

}  // namespace trproxy::proxy
