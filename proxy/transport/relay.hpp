#pragma once
// Blind byte relay between two TCP sockets: both directions at once, half-close propagated, an
// idle watchdog, and both sides closed together when either fails.
//
// On Linux the bytes never enter user space: each direction waits for readability without a
// buffer, then splice(2)s socket -> pipe -> socket through a pipe taken from the worker's pool
// and given back once drained. The directions run on plain completion handlers under one
// coroutine (the idle watchdog), so an idle tunnel holds its two sockets, a socket wait per
// direction and that coroutine's frame, and nothing else (no pipe, no buffer). Elsewhere, or where the kernel refuses
// to splice, a bounded copy does the same with a buffer held only while bytes are in flight. Either way a direction
// reads no more until what it read has been written (back-pressure).

#include "proxy/transport/io.hpp"
#include "proxy/transport/pipe_pool.hpp"

namespace trproxy::proxy {

struct RelayTotals {
  std::uint64_t client_to_upstream = 0;
  std::uint64_t upstream_to_client = 0;
};

// Relays between two plain TCP streams until both directions end or the tunnel is idle for
// `idle_timeout`. Bytes the client sent before the relay (e.g. a peeked ClientHello) must have
// been written upstream already.
net::awaitable<RelayTotals> relay_tunnel(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                         std::chrono::milliseconds idle_timeout, PipePool& pipes);

}  // namespace trproxy::proxy
