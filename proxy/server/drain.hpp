#pragma once
// The drain after SIGTERM/SIGINT (DESIGN.md, "Shutdown"): /readyz answers 503 at once; the
// listeners keep accepting for limits.drain_delay so load balancers notice; then they close,
// idle connections end, open requests get limits.shutdown_grace, and the drain is over when the
// last connection has gone (no polling) or, after the grace, once the rest were shut down and
// had a moment to write their log lines.

#include "config/config.hpp"
#include "proxy/server/acceptor.hpp"
#include "proxy/server/systemd_notify.hpp"

#include <atomic>
#include <vector>

namespace trproxy::proxy {

struct DrainParts {
  net::io_context& control;
  Workers& workers;
  std::vector<tcp::acceptor>& listeners;
  std::vector<tcp::acceptor>& transparent_listeners;
  std::atomic<bool>& draining;  // read by /readyz
  const SystemdNotifier& notifier;
};

// Returns when the workers may be stopped.
net::awaitable<void> drain(DrainParts parts, config::Limits limits, int signal);

}  // namespace trproxy::proxy
