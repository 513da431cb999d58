#include "proxy/server.hpp"

#include "config/loader.hpp"
#include "proxy/admin.hpp"
#include "proxy/session.hpp"
#include "proxy/version.hpp"

#include <spdlog/spdlog.h>

#include <thread>

namespace trproxy::proxy {
namespace {

tcp::acceptor open_acceptor(net::io_context& io, const config::Endpoint& endpoint) {
  const tcp::endpoint where(net::ip::make_address(endpoint.host), endpoint.port);
  tcp::acceptor acceptor(io);
  acceptor.open(where.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (where.address().is_v6()) acceptor.set_option(net::ip::v6_only(true));
  acceptor.bind(where);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor;
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, net::io_context& io, Services& services) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(io), use_tuple);
    if (!acceptor.is_open()) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    auto executor = socket.get_executor();
    net::co_spawn(executor, serve_client(std::move(socket), services), [](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected error: {}", e.what());
      }
    });
  }
}

std::string listen_key(const config::Config& c) {
  std::string key;
  for (const auto& endpoint : c.listen) key += endpoint.to_string() + ",";
  return key + "|" + (c.admin.listen ? c.admin.listen->to_string() : "");
}

}  // namespace

int run_server(const std::filesystem::path& config_path, RuntimePtr initial) {
  const auto& config = initial->config();
  const unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  net::io_context io(static_cast<int>(threads));
  net::io_context admin_io(1);

  RuntimeHolder runtime(initial);
  Metrics metrics;
  AccessLog access_log(config.log.access);
  std::atomic<bool> draining{false};
  std::atomic<bool> listening{false};

  std::vector<tcp::acceptor> acceptors;
  for (const auto& endpoint : config.listen) acceptors.push_back(open_acceptor(io, endpoint));
  Services services{runtime, metrics, access_log, draining, acceptors.front().local_endpoint().port()};
  for (auto& acceptor : acceptors) {
    net::co_spawn(io, accept_loop(acceptor, io, services), net::detached);
    spdlog::info("listening on {}", config::Endpoint{acceptor.local_endpoint().address().to_string(),
                                                      acceptor.local_endpoint().port()}
                                        .to_string());
  }
  listening = true;

  AdminState admin_state{services, [&] { return listening.load() && !draining.load(); },
                         [&] {
                           const auto current = runtime.get();
                           const auto stats = current->leaves->stats();
                           return Metrics::BuildInfo{version,
                                                     config::to_string(current->config().tenant_restrictions.mode),
                                                     stats.minted, stats.hits, listening.load() && !draining.load()};
                         }};
  std::optional<tcp::acceptor> admin_acceptor;
  if (config.admin.listen) {
    admin_acceptor.emplace(open_acceptor(admin_io, *config.admin.listen));
    net::co_spawn(admin_io, run_admin_listener(std::move(*admin_acceptor), admin_state), net::detached);
    spdlog::info("admin endpoint on {}", config.admin.listen->to_string());
  }

  const auto started_listen_key = listen_key(config);
  net::signal_set reload_signals(admin_io, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload_signals.async_wait([&](const error_code& ec, int) {
      if (ec) return;
      try {
        auto next = build_runtime(config::load_config_file(config_path), runtime.get().get());
        premint_sign_in_hosts(*next);
        if (listen_key(next->config()) != started_listen_key) {
          spdlog::warn("reload: listener addresses changed; they take effect only after a restart");
        }
        spdlog::set_level(static_cast<spdlog::level::level_enum>(next->config().log.level));
        runtime.set(std::move(next));
        metrics.reloads_ok.add();
        spdlog::info("reload: configuration revision {} active ({})", runtime.get()->policy->revision(),
                     config::to_string(runtime.get()->config().tenant_restrictions.mode));
      } catch (const std::exception& error) {
        metrics.reloads_failed.add();
        spdlog::error("reload rejected, keeping the running configuration: {}", error.what());
      }
      wait_reload();
    });
  };
  wait_reload();

  net::signal_set stop_signals(admin_io, SIGTERM, SIGINT);
  net::steady_timer drain_timer(admin_io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> poll_drain = [&] {
    if (metrics.active_connections.load() <= 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (metrics.active_connections.load() > 0) {
        spdlog::warn("drain: grace period over, closing {} connections", metrics.active_connections.load());
      }
      io.stop();
      admin_io.stop();
      return;
    }
    drain_timer.expires_after(50ms);
    drain_timer.async_wait([&](const error_code& ec) {
      if (!ec) poll_drain();
    });
  };
  stop_signals.async_wait([&](const error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: draining (up to {} ms)", signal, runtime.get()->config().limits.shutdown_grace.count());
    draining = true;
    for (auto& acceptor : acceptors) {
      net::post(acceptor.get_executor(), [&acceptor] {
        error_code ignored;
        acceptor.close(ignored);
      });
    }
    drain_deadline = std::chrono::steady_clock::now() + runtime.get()->config().limits.shutdown_grace;
    poll_drain();
  });

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
  admin_io.run();
  io.stop();
  for (auto& worker : workers) worker.join();
  access_log.flush();
  spdlog::info("stopped");
  return 0;
}

}  // namespace trproxy::proxy
