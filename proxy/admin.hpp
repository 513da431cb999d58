#pragma once
// The admin listener: /healthz, /readyz, /metrics, /proxy.pac (DESIGN.md). It runs on its own
// io_context and thread so proxy load cannot starve health checks.

#include "proxy/io.hpp"
#include "proxy/services.hpp"

#include <functional>

namespace trproxy::proxy {

struct AdminState {
  Services& services;
  std::function<bool()> ready;
  std::function<std::string()> metrics;  // the /metrics text, rendered at each scrape
};

net::awaitable<void> run_admin_listener(tcp::acceptor acceptor, AdminState& state);

}  // namespace trproxy::proxy
