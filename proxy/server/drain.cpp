#include "proxy/server/drain.hpp"

#include "proxy/server/fanout.hpp"
#include "proxy/server/reload.hpp"
#include "proxy/worker/worker.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <memory>

namespace trproxy::proxy {
namespace {

// After the grace period every connection is shut down; this bounds how long they may take
// to unwind and write their log lines before the workers stop regardless.
constexpr auto unwind_backstop = std::chrono::seconds(2);

// "Every worker has no connection left", as a timer that never expires and is cancelled then:
// a coroutine can wait for it or a deadline, whichever comes first.
struct AllGone {
  net::steady_timer signal;
  bool gone = false;
  explicit AllGone(net::io_context& control) : signal(control, net::steady_timer::time_point::max()) {}

  net::awaitable<bool> within(net::steady_timer& deadline) {
    using namespace net::experimental::awaitable_operators;
    if (gone) co_return true;
    const auto first = co_await (signal.async_wait(use_tuple) || deadline.async_wait(use_tuple));
    co_return gone || first.index() == 0;
  }
};

// Closes the listeners and asks every worker to drain; `all_gone` fires once each has no
// connection left.
void stop_accepting(DrainParts& parts, const std::shared_ptr<AllGone>& all_gone) {
  for (auto* listeners : {&parts.listeners, &parts.transparent_listeners}) {
    for (auto& listener : *listeners) {
      error_code ignored;
      listener.close(ignored);
    }
  }
  auto remaining = std::make_shared<std::size_t>(parts.workers.size());
  for (auto& worker : parts.workers) {
    net::post(worker->io(), [&control = parts.control, &w = *worker, remaining, all_gone] {
      w.registry().start_drain([&control, remaining, all_gone] {
        net::post(control, [remaining, all_gone] {
          if (--*remaining > 0) return;
          all_gone->gone = true;
          all_gone->signal.cancel();
        });
      });
    });
  }
}

}  // namespace

net::awaitable<void> drain(DrainParts parts, config::Limits limits, int signal) {
  spdlog::info("signal {}: draining (accepting for {} ms more, then up to {} ms for open requests)", signal,
               limits.drain_delay.count(), limits.shutdown_grace.count());
  parts.draining = true;
  log_notify_error(parts.notifier.stopping("draining after signal " + std::to_string(signal)));
  net::steady_timer deadline(parts.control);
  deadline.expires_after(limits.drain_delay);
  co_await deadline.async_wait(use_tuple);

  auto all_gone = std::make_shared<AllGone>(parts.control);
  stop_accepting(parts, all_gone);
  deadline.expires_after(limits.shutdown_grace);
  if (co_await all_gone->within(deadline)) co_return;

  spdlog::warn("drain: grace period over, closing the remaining connections");
  on_every_worker(
      parts.workers, parts.control, [](Worker& worker) { worker.registry().end_all(); }, nullptr);
  deadline.expires_after(unwind_backstop);
  co_await all_gone->within(deadline);
}

}  // namespace trproxy::proxy
