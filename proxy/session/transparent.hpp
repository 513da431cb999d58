#pragma once
// A connection on a transparent listener (DESIGN.md, "Transparent mode"): the packet filter sent
// it here and the client never asked for a proxy. Its original destination (SO_ORIGINAL_DST for
// `redirect`, the local address for `tproxy`) becomes the target of a CONNECT that was never
// sent; from the first bytes on it is the CONNECT path (policy/transparent.hpp).

#include "proxy/transport/io.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/worker/worker.hpp"

namespace trproxy::proxy {

net::awaitable<void> serve_transparent(tcp::socket socket, Services& services, Worker& worker);

}  // namespace trproxy::proxy
