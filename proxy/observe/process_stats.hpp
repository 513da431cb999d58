#pragma once
// The standard process_* metrics (Prometheus client conventions), read from /proc at scrape time.

#include <cstdint>
#include <optional>

namespace trproxy::proxy {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;  // the soft RLIMIT_NOFILE
};

// nullopt when /proc is not readable (the metrics are then left out, never made up).
std::optional<ProcessStats> read_process_stats();

}  // namespace trproxy::proxy
