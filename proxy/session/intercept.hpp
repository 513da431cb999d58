#pragma once
// An intercepted sign-in connection: a leaf minted off the io thread, the client's TLS
// handshake, then the request loop — each request decided with the policy current when its
// head was read, rewritten, and exchanged with the verified upstream.

#include "policy/connect_decision.hpp"
#include "proxy/session/client_connection.hpp"

namespace trproxy::proxy {

// `buffer` holds the client's first TLS bytes (the ClientHello already read by the peek).
// The client's stream is moved into the TLS stream (one Beast implementation more, not two).
net::awaitable<void> run_intercept(ClientConnection& connection, beast::tcp_stream& client_tcp,
                                   beast::flat_buffer& buffer, policy::InterceptPlan plan, RequestLog line);

}  // namespace trproxy::proxy
