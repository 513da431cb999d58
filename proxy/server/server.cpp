#include "proxy/server/server.hpp"

#include "config/loader.hpp"
#include "proxy/server/acceptor.hpp"
#include "proxy/server/admin.hpp"
#include "proxy/server/cpus.hpp"
#include "proxy/server/file_watch.hpp"
#include "proxy/transport/local_address.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/server/systemd_notify.hpp"
#include "proxy/worker/worker.hpp"

#include <spdlog/spdlog.h>

#include <functional>

namespace trproxy::proxy {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// After the grace period every connection is shut down; this bounds how long they may take
// to unwind and write their log lines before the workers stop regardless.
constexpr auto unwind_backstop = std::chrono::seconds(2);
constexpr auto ticket_key_rotation = std::chrono::hours(1);

void add_self(policy::SelfEndpoints& self, const tcp::endpoint& bound) {
  if (bound.address().is_unspecified()) {
    self.wildcard_ports.push_back(bound.port());
  } else {
    self.bound.emplace_back(to_ip_address(bound.address()), bound.port());
  }
}

std::string listen_key(const config::Config& c) {
  std::string key;
  for (const auto& endpoint : c.listen) key += endpoint.to_string() + ",";
  return key + "|" + (c.admin.listen ? c.admin.listen->to_string() : "");
}

// Runs `task` on every worker's thread; `done` runs on the control thread once all have.
void on_every_worker(Workers& workers, net::io_context& control, std::function<void(Worker&)> task,
                     std::function<void()> done) {
  auto remaining = std::make_shared<std::size_t>(workers.size());
  for (auto& worker : workers) {
    net::post(worker->io(), [&control, &w = *worker, task, done, remaining] {
      task(w);
      net::post(control, [done, remaining] {
        if (--*remaining == 0 && done) done();
      });
    });
  }
}

net::awaitable<std::vector<TenantSeen>> tenant_snapshot(Worker& worker) { co_return worker.tenants().snapshot(); }

// /tenants: each worker copies its own table on its own thread (the request path takes no lock),
// then the copies are merged here.
net::awaitable<std::string> gather_tenants(Workers& workers) {
  std::vector<std::vector<TenantSeen>> shards;
  for (auto& worker : workers) {
    auto task = tenant_snapshot(*worker);
    auto shard = co_await net::co_spawn(worker->io(), std::move(task), net::use_awaitable);
    shards.push_back(std::move(shard));
  }
  co_return tenants_json(shards);
}

}  // namespace

int run_server(const std::filesystem::path& config_path, RuntimePtr initial) {
  const auto& config = initial->config();
  const unsigned threads = config.threads ? config.threads : usable_cpus();

  // Everything a connection references is declared before the io_contexts that run it, so it
  // is destroyed after them.
  RuntimeHolder runtime(initial);
  apply_ticket_keys(*initial);
  MetricsRegistry metrics(threads);
  metrics.reload_succeeded(unix_now());  // the start is the first successful load
  ClientShares client_shares;
  SignInMetrics sign_in(threads);
  AccessLog access_log(config.log.access);
  LeafMinter minter;
  policy::SelfEndpoints self;
  std::atomic<bool> draining{false};
  std::atomic<bool> listening{false};
  Workers workers;
  net::io_context control(1);  // accepts, admin, signals, reload, drain
  // Signals are caught from before the first port opens: a supervisor (or test) that sends
  // SIGHUP/SIGUSR1/SIGTERM as soon as a port answers must never meet the default action, which
  // kills the process. They queue until their handlers below wait for them.
  net::signal_set reload_signals(control, SIGHUP);
  net::signal_set reopen_signals(control, SIGUSR1);
  net::signal_set stop_signals(control, SIGTERM, SIGINT);

  std::vector<tcp::acceptor> acceptors;
  for (const auto& endpoint : config.listen) {
    try {
      acceptors.push_back(open_acceptor(control, endpoint));
    } catch (const boost::system::system_error& error) {
      // The key that names the listener and the OS error, not Boost's source location.
      throw std::runtime_error("cannot listen on " + endpoint.to_string() + " (listen): " + error.code().message());
    }
    add_self(self, acceptors.back().local_endpoint());
  }
  std::optional<tcp::acceptor> admin_acceptor;
  if (config.admin.listen) {
    try {
      admin_acceptor.emplace(open_acceptor(control, *config.admin.listen));
    } catch (const boost::system::system_error& error) {
      throw std::runtime_error("cannot listen on " + config.admin.listen->to_string() + " (admin.listen): " +
                               error.code().message());
    }
    add_self(self, admin_acceptor->local_endpoint());
  }
  self.is_local_address = is_local_address;
  // Each worker gets its own Services, with its own metrics shard; the admin listener uses the first's.
  const auto services_with = [&](Metrics& shard) {
    return Services{runtime, shard, metrics.active_connections, client_shares, access_log, minter, self,
                    acceptors.front().local_endpoint().port(), draining, sign_in};
  };
  auto services = services_with(metrics.shard(0));
  for (unsigned i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(i, initial, services_with(metrics.shard(i))));
  }
  for (auto& worker : workers) worker->start();
  for (auto& acceptor : acceptors) {
    net::co_spawn(control, accept_loop(acceptor, workers), net::detached);
    spdlog::info("listening on {} ({} worker threads)", endpoint_string(acceptor.local_endpoint()), threads);
  }
  listening = true;

  const auto ready = [&] { return listening.load() && !draining.load(); };
  AdminState admin_state{services, ready, [&] {
                           const auto current = runtime.get();
                           const auto stats = current->leaves->stats();
                           ScrapeState state;
                           state.config = &current->config();
                           state.config_revision = current->policy->revision();
                           state.config_sha256 = current->config_sha256;
                           state.certs_minted = stats.minted;
                           state.cert_cache_hits = stats.hits;
                           state.cert_cache_size = stats.entries;
                           state.ca_not_after = current->leaves->ca().not_after();
                           state.ready = ready();
                           state.process = read_process_stats();
                           return metrics.render(state) + sign_in.render(*current->policy);
                         },
                         [&workers] { return gather_tenants(workers); }};
  if (admin_acceptor) {
    spdlog::info("admin endpoint on {}", endpoint_string(admin_acceptor->local_endpoint()));
    net::co_spawn(control, run_admin_listener(std::move(*admin_acceptor), admin_state), net::detached);
  }

  // Generated session-ticket keys: a new one seals tickets every hour, the two before it still
  // open them (tickets live 2 h). Keys from tls.ticket_keys are the operator's to rotate.
  net::steady_timer ticket_rotation(control);
  std::function<void()> rotate_tickets = [&] {
    ticket_rotation.expires_after(ticket_key_rotation);
    ticket_rotation.async_wait([&](const error_code& ec) {
      if (ec) return;
      runtime.get()->server_tls->ticket_keys().rotate();
      rotate_tickets();
    });
  };
  rotate_tickets();

  // systemd (Type=notify): ready now that the listeners accept and the CA is loaded.
  const auto notifier = SystemdNotifier::from_environment();
  const auto notified = [](const std::string& error) {
    if (!error.empty()) spdlog::warn("systemd notification: {}", error);
  };
  const auto serving = [&] {
    const auto current = runtime.get();
    return "serving on " + endpoint_string(acceptors.front().local_endpoint()) + ", configuration revision " +
           std::to_string(current->policy->revision()) + " (" +
           config::to_string(current->config().tenant_restrictions.mode) + ")";
  };
  notified(notifier.ready(serving()));

  const auto started_listen_key = listen_key(config);
  // The files whose change reloads (watch_files): the config, the running CA and the ticket keys.
  const auto watched_files = [&config_path](const config::Config& c) {
    std::vector<std::filesystem::path> files{config_path, c.ca.cert, c.ca.key};
    if (!c.tls.ticket_keys.empty()) files.push_back(c.tls.ticket_keys);  // the operator's rotation
    return files;
  };
  std::function<void()> reload;
  FileWatch file_watch(control, [&reload] { reload(); });
  file_watch.watch(watched_files(config), config.watch_files);
  // SIGHUP and watch_files reload the same way: an invalid file is rejected, logged and
  // counted, and the running configuration stays.
  reload = [&] {
    notified(notifier.reloading("reloading " + config_path.string()));
    file_watch.mark();
    try {
      auto next = build_runtime(config::load_config_file(config_path), runtime.get().get());
      premint_sign_in_hosts(*next);
      for (const auto& warning : next->warnings) spdlog::warn("reload: {}", warning);
      if (listen_key(next->config()) != started_listen_key) {
        spdlog::warn("reload: listener addresses changed; they take effect only after a restart");
      }
      // A changed log.access opens the new destination first: if it cannot be opened the
      // reload is rejected and the running configuration (and log) stay. log.format applies
      // per request from each worker's snapshot.
      access_log.retarget(next->config().log.access);
      spdlog::set_level(static_cast<spdlog::level::level_enum>(next->config().log.level));
      runtime.set(next);
      apply_ticket_keys(*next);
      metrics.reload_succeeded(unix_now());
      notified(notifier.ready(serving()));
      file_watch.watch(watched_files(next->config()), next->config().watch_files);
      on_every_worker(
          workers, control, [next](Worker& worker) { worker.set_runtime(next); },
          [next] {
            spdlog::info("reload: configuration revision {} active ({})", next->policy->revision(),
                         config::to_string(next->config().tenant_restrictions.mode));
          });
    } catch (const std::exception& error) {
      metrics.reload_failed();
      spdlog::error("reload rejected, keeping the running configuration: {}", error.what());
      notified(notifier.ready("reload rejected (" + std::string(error.what()) + "); " + serving()));
    }
  };
  std::function<void()> wait_reload = [&] {
    reload_signals.async_wait([&](const error_code& ec, int) {
      if (ec) return;
      reload();
      wait_reload();
    });
  };
  wait_reload();

  // SIGUSR1 (DESIGN): reopen the access-log file, so logrotate can move it away (no copytruncate).
  std::function<void()> wait_reopen = [&] {
    reopen_signals.async_wait([&](const error_code& ec, int) {
      if (ec) return;
      if (const auto error = access_log.reopen(); !error.empty()) {
        spdlog::error("SIGUSR1: {}; still writing to the previous file", error);
      } else {
        spdlog::info("SIGUSR1: access log reopened");
      }
      wait_reopen();
    });
  };
  wait_reopen();

  // SIGTERM/SIGINT (DESIGN): readyz 503 at once; keep accepting for drain_delay; then close the
  // listeners, end idle connections, give open requests shutdown_grace, and stop when the last
  // connection has gone — no polling.
  net::steady_timer drain_timer(control);
  net::steady_timer grace_timer(control);
  net::steady_timer backstop_timer(control);
  bool finished = false;
  const auto finish = [&] {
    if (finished) return;
    finished = true;
    for (auto& worker : workers) worker->stop();
    control.stop();
  };
  const auto end_all = [&] {
    spdlog::warn("drain: grace period over, closing the remaining connections");
    on_every_worker(workers, control, [](Worker& worker) { worker.registry().end_all(); }, nullptr);
    backstop_timer.expires_after(unwind_backstop);
    backstop_timer.async_wait([&](const error_code& ec) {
      if (!ec) finish();
    });
  };
  const auto close_listeners = [&] {
    for (auto& acceptor : acceptors) {
      error_code ignored;
      acceptor.close(ignored);
    }
    auto remaining = std::make_shared<std::size_t>(workers.size());
    for (auto& worker : workers) {
      net::post(worker->io(), [&control, &w = *worker, remaining, &finish] {
        w.registry().start_drain([&control, remaining, &finish] {
          net::post(control, [remaining, &finish] {
            if (--*remaining == 0) finish();
          });
        });
      });
    }
    grace_timer.expires_after(runtime.get()->config().limits.shutdown_grace);
    grace_timer.async_wait([&](const error_code& ec) {
      if (!ec) end_all();
    });
  };
  stop_signals.async_wait([&](const error_code& ec, int signal) {
    if (ec) return;
    const auto& limits = runtime.get()->config().limits;
    spdlog::info("signal {}: draining (accepting for {} ms more, then up to {} ms for open requests)", signal,
                 limits.drain_delay.count(), limits.shutdown_grace.count());
    draining = true;
    notified(notifier.stopping("draining after signal " + std::to_string(signal)));
    drain_timer.expires_after(limits.drain_delay);
    drain_timer.async_wait([&](const error_code& wait_ec) {
      if (!wait_ec) close_listeners();
    });
  });

  control.run();
  for (auto& worker : workers) worker->stop();
  for (auto& worker : workers) worker->join();
  minter.stop();
  access_log.flush();
  spdlog::info("stopped");
  return 0;
}

}  // namespace trproxy::proxy
