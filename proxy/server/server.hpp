#pragma once
// The running process: listeners, io threads, admin endpoint, signals (SIGHUP reload,
// SIGTERM/SIGINT drain) and the atomically swapped Runtime.

#include "proxy/worker/runtime.hpp"

#include <filesystem>

namespace trproxy::proxy {

// Runs until SIGTERM/SIGINT and the drain finish. Returns the process exit code.
// Throws on start-up failures (e.g. a listener that cannot bind).
int run_server(const std::filesystem::path& config_path, RuntimePtr runtime);

}  // namespace trproxy::proxy
