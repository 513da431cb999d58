#include "proxy/observe/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace trproxy::proxy {
namespace {

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = 0;
      if (in >> value) return value;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  std::ifstream in("/proc/self/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // Field 2 (comm) may hold spaces and parentheses: the fields that follow start after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  // From field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  std::string field;
  double utime = 0, stime = 0, starttime = 0;
  std::uint64_t vsize = 0, rss = 0;
  for (int number = 3; number <= 24 && fields >> field; ++number) {
    if (number == 14) utime = std::stod(field);
    if (number == 15) stime = std::stod(field);
    if (number == 22) starttime = std::stod(field);
    if (number == 23) vsize = std::stoull(field);
    if (number == 24) rss = std::stoull(field);
  }
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto boot = boot_time_seconds();
  if (!fields || ticks <= 0 || !boot) return std::nullopt;

  ProcessStats stats;
  stats.cpu_seconds = (utime + stime) / ticks;
  stats.resident_bytes = rss * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  stats.virtual_bytes = vsize;
  stats.start_time_seconds = *boot + starttime / ticks;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++stats.open_fds;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = limit.rlim_cur;
  return stats;
}

}  // namespace trproxy::proxy
