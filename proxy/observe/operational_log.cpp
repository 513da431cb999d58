#include "proxy/observe/operational_log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace trproxy::proxy {
namespace {

// %* → "<N>", the syslog priority of the line's level (sd-daemon(3) prefixes).
class SyslogPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const char* prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: prefix = "<7>"; break;
      case spdlog::level::info: prefix = "<6>"; break;
      case spdlog::level::warn: prefix = "<4>"; break;
      case spdlog::level::err: prefix = "<3>"; break;
      case spdlog::level::critical: prefix = "<2>"; break;
      default: break;
    }
    dest.append(prefix, prefix + 3);
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriority>();
  }
};

}  // namespace

bool stderr_is_journal(std::string_view env) {
  const auto colon = env.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  const auto dev_end = env.data() + colon;
  const auto [p1, e1] = std::from_chars(env.data(), dev_end, dev);
  const auto [p2, e2] = std::from_chars(dev_end + 1, env.data() + env.size(), ino);
  if (e1 != std::errc{} || p1 != dev_end || e2 != std::errc{} || p2 != env.data() + env.size()) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

void setup_operational_log() {
  const char* env = std::getenv("JOURNAL_STREAM");
  const bool journal = env && stderr_is_journal(env);
  auto logger = spdlog::stderr_color_mt("trproxy");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (journal) {
    // journald timestamps each line itself.
    formatter->add_flag<SyslogPriority>('*').set_pattern("%*%l %v");
  } else {
    formatter =
        std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
}

}  // namespace trproxy::proxy
