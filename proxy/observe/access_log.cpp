#include "proxy/observe/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace trproxy::proxy {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// The destination's stream: stdout, a file opened for appending, or none ("" = off).
struct Target {
  FilePtr file;
  std::FILE* out = nullptr;
};

Target open_target(const std::string& destination) {
  Target target;
  if (destination == "-") {
    target.out = stdout;
  } else if (!destination.empty()) {
    target.file.reset(std::fopen(destination.c_str(), "a"));
    if (!target.file) {
      throw std::runtime_error("log.access " + destination +
                               ": cannot open for appending: " + std::system_category().message(errno));
    }
    target.out = target.file.get();
  }
  return target;
}

}  // namespace

// spdlog serialises sink calls with the base sink's mutex; reopen and retarget take the same
// mutex, so a line is never written to a half-switched stream.
class AccessSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit AccessSink(Target target, std::string path) : target_(std::move(target)), path_(std::move(path)) {}

  void replace(Target target, std::string path) {
    std::lock_guard lock(mutex_);
    if (target_.out) std::fflush(target_.out);
    target_ = std::move(target);
    path_ = std::move(path);
  }
  [[nodiscard]] std::string path() {
    std::lock_guard lock(mutex_);
    return path_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!target_.out) return;
    std::fwrite(msg.payload.data(), 1, msg.payload.size(), target_.out);
    std::fputc('\n', target_.out);
  }
  void flush_() override {
    if (target_.out) std::fflush(target_.out);
  }

 private:
  Target target_;
  std::string path_;  // the file's name, "" for stdout or off
};

AccessLog::AccessLog(const std::string& destination)
    : destination_(destination),
      sink_(std::make_shared<AccessSink>(open_target(destination), destination == "-" ? "" : destination)),
      pool_(std::make_shared<spdlog::details::thread_pool>(8192, 1)),
      logger_(std::make_shared<spdlog::async_logger>("access", sink_, pool_, spdlog::async_overflow_policy::block)) {
  logger_->set_level(spdlog::level::info);
  logger_->flush_on(spdlog::level::info);  // readable line by line (tail -f, tests, pipelines)
  enabled_ = !destination.empty();
}

AccessLog::~AccessLog() {
  flush();
}

void AccessLog::flush() {
  logger_->flush();
}

void AccessLog::write(const RequestLog& record, std::string_view client, config::LogFormat format, Entry entry) {
  if (!enabled_.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::steady_clock::now();
  const auto line = format_access_line(record, client, log_timestamp(std::chrono::system_clock::now()),
                                       now - record.since, format, entry);
  logger_->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
}

std::string AccessLog::reopen() {
  auto path = sink_->path();
  if (path.empty()) return {};
  try {
    auto target = open_target(path);
    sink_->replace(std::move(target), std::move(path));
  } catch (const std::exception& error) {
    return error.what();
  }
  return {};
}

void AccessLog::retarget(const std::string& destination) {
  if (destination == destination_) return;
  auto target = open_target(destination);
  sink_->replace(std::move(target), destination == "-" ? "" : destination);
  destination_ = destination;
  enabled_ = !destination.empty();
}

}  // namespace trproxy::proxy
