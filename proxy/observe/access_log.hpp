#pragma once
// Writes access-log records (proxy/observe/access_record.hpp) off the io threads: a worker formats its
// line and queues it; one writer thread appends it to stdout or a file. The file can be reopened
// (SIGUSR1, after logrotate moved it) and the destination changed (a reload), without losing the
// lines around the switch.

#include "config/config.hpp"
#include "proxy/observe/access_record.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class async_logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace trproxy::proxy {

class AccessSink;

class AccessLog {
 public:
  // destination: "-" stdout, "" off, otherwise a file opened for appending (never truncated).
  // Throws std::runtime_error naming log.access, the file and the OS error.
  explicit AccessLog(const std::string& destination);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const RequestLog& record, std::string_view client, config::LogFormat format, Entry entry = Entry::proxy);

  // Reopens the file under its name (log rotation). Returns "" or why it failed (the old file
  // stays in use). A no-op for stdout or off.
  std::string reopen();

  // A reload changed log.access. Throws like the constructor; on failure the old destination stays.
  void retarget(const std::string& destination);

  [[nodiscard]] const std::string& destination() const { return destination_; }
  void flush();

 private:
  std::string destination_;
  std::atomic<bool> enabled_{false};
  std::shared_ptr<AccessSink> sink_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::async_logger> logger_;
};

}  // namespace trproxy::proxy
