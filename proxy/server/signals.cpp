#include "proxy/server/signals.hpp"

#include <csignal>

namespace trproxy::proxy {

net::awaitable<void> handle_signals(net::signal_set& signals, SignalActions actions) {
  bool stopping = false;
  for (;;) {
    auto [ec, signal] = co_await signals.async_wait(use_tuple);
    if (ec) co_return;
    if (signal == SIGHUP) {
      actions.reload();
    } else if (signal == SIGUSR1) {
      actions.reopen();
    } else if (!stopping) {
      stopping = true;
      actions.stop(signal);
    }
  }
}

}  // namespace trproxy::proxy
