#include "proxy/access_log.hpp"

#include "config/syntax.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace trproxy::proxy {

std::string_view loggable_path(std::string_view target) {
  if (const auto scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
    const auto path = target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  return target.substr(0, target.find_first_of("?#"));
}

std::string logfmt_value(std::string_view value) {
  if (value.empty()) return "-";
  const bool bare = std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '"' || c == '=' || c == '\\';
  });
  if (bare) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    config::append_visible(out, c);
  }
  return out + "\"";
}

AccessLog::AccessLog(const std::string& destination) {
  if (destination.empty()) return;
  spdlog::init_thread_pool(8192, 1);
  spdlog::sink_ptr sink;
  if (destination == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(destination, 50 * 1024 * 1024, 5);
  }
  logger_ = std::make_shared<spdlog::async_logger>("access", sink, spdlog::thread_pool(),
                                                   spdlog::async_overflow_policy::block);
  logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
  logger_->set_level(spdlog::level::info);
  logger_->flush_on(spdlog::level::info);
}

AccessLog::~AccessLog() { flush(); }

void AccessLog::flush() {
  if (logger_) logger_->flush();
}

void AccessLog::write(const AccessRecord& r) {
  if (!logger_) return;
  const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(r.duration).count() / 1000.0;
  std::string extra;
  for (const auto& [key, value] : {std::pair{" sni=", r.sni}, {" upstream=", r.upstream}, {" reason=", r.reason}}) {
    if (!value.empty()) extra += key + logfmt_value(value);
  }
  logger_->info("client={} action={} method={} host={} path={} status={} bytes_in={} bytes_out={} duration_ms={:.1f}{}",
                r.client, to_string(r.action), logfmt_value(r.method), logfmt_value(r.host),
                logfmt_value(r.target.empty() ? std::string_view{} : loggable_path(r.target)), r.status,
                r.bytes_from_client, r.bytes_to_client, ms, extra);
}

}  // namespace trproxy::proxy
