#pragma once
// The process's signals, in one coroutine (as Beast's handle_signals): SIGHUP reloads, SIGUSR1
// reopens the access log, SIGTERM/SIGINT start the drain once (later ones are ignored while it
// runs). The signal_set is made before the first port opens: a supervisor that signals as soon
// as a port answers must never meet the default action, which kills the process.

#include "proxy/transport/io.hpp"

#include <functional>

namespace trproxy::proxy {

struct SignalActions {
  std::function<void()> reload;   // SIGHUP
  std::function<void()> reopen;   // SIGUSR1
  std::function<void(int)> stop;  // SIGTERM or SIGINT, with the signal's number
};

// `signals` must hold SIGHUP, SIGUSR1, SIGTERM and SIGINT. Returns when the set is cancelled.
net::awaitable<void> handle_signals(net::signal_set& signals, SignalActions actions);

}  // namespace trproxy::proxy
