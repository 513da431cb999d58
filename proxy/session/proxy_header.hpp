#pragma once
// Reading the PROXY protocol header a trusted load balancer sends first (DESIGN.md,
// "proxy_protocol"): bounded by the connection's buffer and by the first request's head
// deadline, so a balancer that stalls cannot hold a connection longer than any client could.

#include "policy/proxy_protocol.hpp"
#include "proxy/session/head_reader.hpp"
#include "proxy/transport/io.hpp"

namespace trproxy::proxy {

// How the read ended (the same outcomes as a request head's).
struct ProxyHeaderOutcome {
  HeadRead read = HeadRead::closed;
  policy::ProxyHeader header;
};

// Reads into `buffer` until a whole header is there (then consumes it: what follows is the
// client's first request), it is invalid or longer than `max_bytes`, the peer closes, or
// `deadline` passes.
net::awaitable<ProxyHeaderOutcome> read_proxy_header(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                     std::size_t max_bytes, Clock::time_point deadline);

}  // namespace trproxy::proxy
