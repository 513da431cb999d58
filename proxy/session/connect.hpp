#pragma once
// The CONNECT flow: dial an ordinary destination first (so a failure is still a 502/504/403),
// answer `200 Connection established`, read the ClientHello whole, then intercept, tunnel or
// close as policy::decide_after_hello says.

#include "policy/connect_decision.hpp"
#include "proxy/session/client_connection.hpp"

namespace trproxy::proxy {

// `buffer` holds whatever the client sent after the CONNECT head (its head already consumed).
// Both are the caller's, by reference: moving a Beast tcp_stream allocates a new implementation
// and leaves the old one alive in the caller's frame for the connection's whole life.
net::awaitable<void> run_connect(ClientConnection& connection, beast::tcp_stream& client, beast::flat_buffer& buffer,
                                 policy::ConnectTarget target, RequestLog line);

}  // namespace trproxy::proxy
