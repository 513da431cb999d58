#pragma once
// A connection on the proxy listener, from accept to close: the client allow-list and the
// connection limit, then one dispatch for every request form on the plain connection
// (policy::plan_plain_request) — absolute-form forwards, CONNECT and the PAC file may follow
// each other on one kept-alive connection.

#include "proxy/transport/io.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/worker/worker.hpp"

namespace trproxy::proxy {

net::awaitable<void> serve_client(tcp::socket socket, Services& services, Worker& worker);

}  // namespace trproxy::proxy
