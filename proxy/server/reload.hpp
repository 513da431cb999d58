#pragma once
// A reload (SIGHUP or watch_files): the configuration file and everything it names are loaded
// and checked again; a valid result becomes the running runtime on every worker, an invalid one
// is logged and counted and the running configuration stays (DESIGN.md, "Reload").

#include "proxy/observe/access_log.hpp"
#include "proxy/observe/metrics.hpp"
#include "proxy/server/acceptor.hpp"
#include "proxy/server/file_watch.hpp"
#include "proxy/server/systemd_notify.hpp"
#include "proxy/worker/runtime.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace trproxy::proxy {

struct ReloadParts {
  std::filesystem::path config_path;
  RuntimeHolder& runtime;
  AccessLog& access_log;
  MetricsRegistry& metrics;
  const SystemdNotifier& notifier;
  FileWatch& file_watch;
  Workers& workers;
  net::io_context& control;
  std::string started_listen_key;        // listeners change only with a restart
  std::function<std::string()> serving;  // the systemd status line of the running state
};

void reload(ReloadParts& parts);

// What identifies the listeners: a reload that changes it is warned about (restart needed).
std::string listen_key(const config::Config& config);

// The files whose change reloads (watch_files): the config, the running CA and the ticket keys.
std::vector<std::filesystem::path> watched_files(const std::filesystem::path& config_path,
                                                 const config::Config& config);

// trproxy_config_last_reload_success_timestamp_seconds is now (a reload, and the start).
void record_successful_load(MetricsRegistry& metrics);

// Logs a systemd notification that could not be sent.
void log_notify_error(const std::string& error);

}  // namespace trproxy::proxy
