#include "proxy/server/reload.hpp"

#include "config/loader.hpp"
#include "proxy/server/fanout.hpp"
#include "proxy/server/listeners.hpp"
#include "proxy/worker/worker.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace trproxy::proxy {
namespace {

// Puts `next` in place: the access log first (a destination that cannot be opened rejects the
// reload, keeping the running one), then the runtime, the ticket keys and the watched files,
// and last every worker, each on its own thread. The reload is counted, and systemd told READY,
// only once every worker holds `next`: whoever sees either may rely on every head read from
// then on being decided by the new policy (bench/soak.py found the count running ahead of the
// workers). `parts` lives as long as the control loop that runs the completion.
void put_in_place(ReloadParts& parts, const RuntimePtr& next) {
  for (const auto& warning : next->warnings) spdlog::warn("reload: {}", warning);
  if (listen_key(next->config()) != parts.started_listen_key) {
    spdlog::warn("reload: listener addresses changed; they take effect only after a restart");
  }
  parts.access_log.retarget(next->config().log.access);
  spdlog::set_level(static_cast<spdlog::level::level_enum>(next->config().log.level));
  parts.runtime.set(next);
  apply_ticket_keys(*next);
  parts.file_watch.watch(watched_files(parts.config_path, next->config()), next->config().watch_files);
  on_every_worker(
      parts.workers, parts.control, [next](Worker& worker) { worker.set_runtime(next); },
      [next, &parts] {
        record_successful_load(parts.metrics);
        log_notify_error(parts.notifier.ready(parts.serving()));
        spdlog::info("reload: configuration revision {} active ({})", next->policy->revision(),
                     config::to_string(next->config().tenant_restrictions.mode));
      });
}

}  // namespace

void reload(ReloadParts& parts) {
  log_notify_error(parts.notifier.reloading("reloading " + parts.config_path.string()));
  parts.file_watch.mark();
  try {
    auto next = build_runtime(config::load_config_file(parts.config_path), parts.runtime.get().get());
    require_mark_settable(parts.control, next->config().upstream.mark);
    premint_sign_in_hosts(*next);
    put_in_place(parts, next);
  } catch (const std::exception& error) {
    parts.metrics.reload_failed();
    spdlog::error("reload rejected, keeping the running configuration: {}", error.what());
    log_notify_error(parts.notifier.ready("reload rejected (" + std::string(error.what()) + "); " + parts.serving()));
  }
}

std::string listen_key(const config::Config& config) {
  std::string key;
  for (const auto& endpoint : config.listen) key += endpoint.to_string() + ",";
  key += "|";
  for (const auto& endpoint : config.transparent.listen) key += endpoint.to_string() + ",";
  key += std::string("|") + config::to_string(config.transparent.method);
  return key + "|" + (config.admin.listen ? config.admin.listen->to_string() : "");
}

std::vector<std::filesystem::path> watched_files(const std::filesystem::path& config_path,
                                                 const config::Config& config) {
  std::vector<std::filesystem::path> files{config_path, config.ca.cert, config.ca.key};
  if (!config.tls.ticket_keys.empty()) files.push_back(config.tls.ticket_keys);  // the operator's rotation
  return files;
}

void log_notify_error(const std::string& error) {
  if (!error.empty()) spdlog::warn("systemd notification: {}", error);
}

void record_successful_load(MetricsRegistry& metrics) {
  metrics.reload_succeeded(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace trproxy::proxy
