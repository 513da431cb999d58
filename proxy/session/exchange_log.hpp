#pragma once
// The access-log line and counters of one forwarded exchange, the same for an intercepted request
// and a plain-HTTP forward: the upstream's status class, what the client sent and got, and why it
// broke off if it did.

#include "policy/host_class.hpp"
#include "proxy/session/client_connection.hpp"
#include "proxy/session/exchange.hpp"

namespace trproxy::proxy {

// `line` holds the request's fields already (action, host, method, target, profile, outcome).
void log_exchange(ClientConnection& connection, policy::HostClass host_class, const ExchangeResult& result,
                  RequestLog& line);

}  // namespace trproxy::proxy
