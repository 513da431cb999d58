#pragma once
// Blind byte relay between two streams: both directions at once, bounded buffers (a read
// waits until its write is done: back-pressure), half-close propagated, an idle watchdog, and
// both sides closed together when either fails.

#include "proxy/io.hpp"

namespace trproxy::proxy {

struct RelayTotals {
  std::uint64_t client_to_upstream = 0;
  std::uint64_t upstream_to_client = 0;
};

// Relays between two plain TCP streams until both directions end or the tunnel is idle for
// `idle_timeout`.
net::awaitable<RelayTotals> relay_tunnel(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                         std::chrono::milliseconds idle_timeout);

}  // namespace trproxy::proxy
