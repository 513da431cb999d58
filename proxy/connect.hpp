#pragma once
// The CONNECT flow: dial an ordinary destination first (so a failure is still a 502/504/403),
// answer `200 Connection established`, read the ClientHello whole, then intercept, tunnel or
// close as policy::decide_after_hello says.

#include "policy/connect_decision.hpp"
#include "proxy/connection.hpp"

namespace trproxy::proxy {

// `buffer` holds whatever the client sent after the CONNECT head (its head already consumed).
net::awaitable<void> run_connect(ClientConnection& connection, beast::tcp_stream client, beast::flat_buffer buffer,
                                 policy::ConnectTarget target, RequestLog line);

}  // namespace trproxy::proxy
