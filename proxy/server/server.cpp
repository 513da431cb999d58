#include "proxy/server/server.hpp"

#include "proxy/server/acceptor.hpp"
#include "proxy/server/admin.hpp"
#include "proxy/server/cpus.hpp"
#include "proxy/server/descriptor_limit.hpp"
#include "proxy/server/drain.hpp"
#include "proxy/server/fanout.hpp"
#include "proxy/server/file_watch.hpp"
#include "proxy/server/listeners.hpp"
#include "proxy/server/reload.hpp"
#include "proxy/server/signals.hpp"
#include "proxy/server/systemd_notify.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/worker/worker.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdint>
#include <functional>

namespace trproxy::proxy {
namespace {

// Generated session-ticket keys: a new one seals tickets every hour, the two before it still
// open them (tickets live 2 h). Keys from tls.ticket_keys are the operator's to rotate.
net::awaitable<void> rotate_ticket_keys(RuntimeHolder& runtime) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::hours(1));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) co_return;
    runtime.get()->server_tls->ticket_keys().rotate();
  }
}

// SIGUSR1 (DESIGN): reopen the access-log file, so logrotate can move it away (no copytruncate).
void reopen_access_log(AccessLog& access_log) {
  if (const auto error = access_log.reopen(); !error.empty()) {
    spdlog::error("SIGUSR1: {}; still writing to the previous file", error);
  } else {
    spdlog::info("SIGUSR1: access log reopened");
  }
}

// The /metrics text of the running process.
std::string render_metrics(const MetricsRegistry& metrics, const SignInMetrics& sign_in, const Runtime& current,
                           bool ready) {
  const auto stats = current.leaves->stats();
  ScrapeState state;
  state.config = &current.config();
  state.config_revision = current.policy->revision();
  state.config_sha256 = current.config_sha256;
  state.certs_minted = stats.minted;
  state.cert_cache_hits = stats.hits;
  state.cert_cache_size = stats.entries;
  state.ca_not_after = current.leaves->ca().not_after();
  state.ready = ready;
  state.process = read_process_stats();
  return metrics.render(state) + sign_in.render(*current.policy) + sign_in.render_apps(*current.policy);
}

// Hands each listener's connections to the least-loaded worker.
void accept_on(net::io_context& control, std::vector<tcp::acceptor>& listeners, Workers& workers,
               MetricsRegistry& metrics, Entry entry = Entry::proxy) {
  const auto listener =
      entry == Entry::proxy ? MetricsRegistry::Listener::proxy : MetricsRegistry::Listener::transparent;
  for (auto& acceptor : listeners) {
    net::co_spawn(control, accept_loop(acceptor, workers, metrics.accept_pauses(listener), entry), net::detached);
    if (entry == Entry::proxy) {
      spdlog::info("listening on {} ({} worker threads)", endpoint_string(acceptor.local_endpoint()), workers.size());
    } else {
      spdlog::info("transparent listener on {} (method {})", endpoint_string(acceptor.local_endpoint()),
                   config::to_string(workers.front()->runtime()->config().transparent.method));
    }
  }
}

// The systemd status line of the running state.
std::string serving_status(const tcp::acceptor& first_listener, const Runtime& current) {
  return "serving on " + endpoint_string(first_listener.local_endpoint()) + ", configuration revision " +
         std::to_string(current.policy->revision()) + " (" +
         config::to_string(current.config().tenant_restrictions.mode) + ")";
}

// The parts of the process every worker shares. Declared before the io_contexts that run the
// connections referencing them, so destroyed after those.
struct SharedParts {
  SharedParts(const config::Config& config, unsigned threads)
      : metrics(threads), sign_in(threads), access_log(config.log.access) {}
  MetricsRegistry metrics;
  ClientShares client_shares;
  SignInMetrics sign_in;
  AccessLog access_log;
  LeafMinter minter;
};

// One worker per thread, each with Services of its own (its own metrics shard), started.
void start_workers(Workers& workers, unsigned threads, const RuntimePtr& initial, SharedParts& shared,
                   const Listeners& listeners, std::uint16_t proxy_port) {
  for (unsigned i = 0; i < threads; ++i) {
    const Services services{shared.metrics.shard(i),
                            shared.metrics.active_connections,
                            shared.client_shares,
                            shared.access_log,
                            shared.minter,
                            listeners.self,
                            proxy_port,
                            shared.sign_in};
    workers.push_back(std::make_unique<Worker>(i, initial, services));
  }
  for (auto& worker : workers) worker->start();
}

// After control.run() returns: the workers finish what they hold, then the process-wide parts.
void wind_down(Workers& workers, SharedParts& shared) {
  for (auto& worker : workers) worker->stop();
  for (auto& worker : workers) worker->join();
  shared.minter.stop();
  shared.access_log.flush();
  spdlog::info("stopped");
}

}  // namespace

int run_server(const std::filesystem::path& config_path, RuntimePtr initial) {
  const auto& config = initial->config();
  const unsigned threads = config.threads ? config.threads : usable_cpus();
  raise_descriptor_limit(config.limits.max_connections);

  // Everything a connection references is declared before the io_contexts that run it, so it
  // is destroyed after them.
  RuntimeHolder runtime(initial);
  apply_ticket_keys(*initial);
  SharedParts shared(config, threads);
  auto& metrics = shared.metrics;
  record_successful_load(metrics);  // the start is the first successful load
  std::atomic<bool> draining{false};
  std::atomic<bool> listening{false};
  Workers workers;
  net::io_context control(1);                         // accepts, admin, signals, reload, drain
  net::signal_set signals(control, SIGHUP, SIGUSR1);  // caught before the first port opens
  signals.add(SIGTERM);
  signals.add(SIGINT);

  auto listeners = open_listeners(control, config);
  const auto proxy_port = listeners.proxy.front().local_endpoint().port();
  start_workers(workers, threads, initial, shared, listeners, proxy_port);
  accept_on(control, listeners.proxy, workers, metrics);
  accept_on(control, listeners.transparent, workers, metrics, Entry::transparent);
  listening = true;

  const auto ready = [&] { return listening.load() && !draining.load(); };
  AdminState admin_state{runtime,
                         proxy_port,
                         ready,
                         [&] { return render_metrics(metrics, shared.sign_in, *runtime.get(), ready()); },
                         [&workers] { return gather_tenants(workers); },
                         metrics.accept_pauses(MetricsRegistry::Listener::admin)};
  if (listeners.admin) {
    spdlog::info("admin endpoint on {}", endpoint_string(listeners.admin->local_endpoint()));
    net::co_spawn(control, run_admin_listener(std::move(*listeners.admin), admin_state), net::detached);
  }
  net::co_spawn(control, rotate_ticket_keys(runtime), net::detached);

  // systemd (Type=notify): ready now that the listeners accept and the CA is loaded.
  const auto notifier = SystemdNotifier::from_environment();
  const auto serving = [&] { return serving_status(listeners.proxy.front(), *runtime.get()); };
  log_notify_error(notifier.ready(serving()));

  // SIGHUP and watch_files reload the same way.
  std::function<void()> on_change;
  FileWatch file_watch(control, [&on_change] { on_change(); });
  file_watch.watch(watched_files(config_path, config), config.watch_files);
  ReloadParts reload_parts{config_path, runtime, shared.access_log,  metrics, notifier, file_watch,
                           workers,     control, listen_key(config), serving};
  on_change = [&reload_parts] { reload(reload_parts); };

  const auto finish = [&] {
    for (auto& worker : workers) worker->stop();
    control.stop();
  };
  const auto stop = [&](int signal) {
    const DrainParts parts{control, workers, listeners.proxy, listeners.transparent, draining, notifier};
    auto draining_task = drain(parts, runtime.get()->config().limits, signal);
    net::co_spawn(control, std::move(draining_task), [finish](const std::exception_ptr&) { finish(); });
  };
  net::co_spawn(control, handle_signals(signals, {on_change, [&] { reopen_access_log(shared.access_log); }, stop}),
                net::detached);

  control.run();
  wind_down(workers, shared);
  return 0;
}

}  // namespace trproxy::proxy
