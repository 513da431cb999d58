#pragma once
// The admin listener: /healthz, /readyz, /metrics, /proxy.pac, /tenants (DESIGN.md). It runs on its own
// io_context and thread so proxy load cannot starve health checks.

#include "proxy/observe/metrics.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/worker/runtime.hpp"

#include <functional>

namespace trproxy::proxy {

struct AdminState {
  RuntimeHolder& runtime;    // the current snapshot, for the PAC file
  std::uint16_t proxy_port;  // the PAC's default proxy port
  std::function<bool()> ready;
  std::function<std::string()> metrics;  // the /metrics text, rendered at each scrape
  // The /tenants JSON, gathered from every worker on its own thread.
  std::function<net::awaitable<std::string>()> tenants;
  Counter& accept_pauses;  // trproxy_accept_pauses_total{listener="admin"}
};

net::awaitable<void> run_admin_listener(tcp::acceptor acceptor, AdminState& state);

}  // namespace trproxy::proxy
