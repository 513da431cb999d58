#pragma once
// Every open client connection of one worker, so that drain, shutdown and reload can reach
// them without polling (DESIGN.md, signals; "Policy applies per request"). Touched only on its
// worker's thread: no locks.
//
// A connection is ended from outside by shutting its sockets down (shutdown(2), not close):
// pending reads complete at once with EOF, the session unwinds through its normal path and
// writes its access-log line, and the file descriptor stays owned by its socket object.

#include <cstddef>
#include <functional>
#include <list>

namespace trproxy::proxy {

struct Runtime;

class ConnectionRegistry {
 public:
  struct Entry {
    int client_fd = -1;
    int upstream_fd = -1;
    bool idle = false;  // waiting for the next request head: closed at once on drain
    // Asked after a reload; returns false when the connection must end now (e.g. a tunnel whose
    // host became blocked or intercepted).
    std::function<bool(const Runtime&)> still_allowed;
  };

  // Registers for as long as it lives (declare it in the session's frame).
  class Registration {
   public:
    Registration(ConnectionRegistry& registry, int client_fd);
    ~Registration();
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Entry& operator*() { return *entry_; }
    Entry* operator->() { return &*entry_; }

   private:
    ConnectionRegistry& registry_;
    std::list<Entry>::iterator entry_;
  };

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool draining() const { return draining_; }

  // SIGTERM: idle connections end now, busy ones after their current response (sessions ask
  // draining()). `on_empty` runs once no connection is left.
  void start_drain(std::function<void()> on_empty);
  // The grace period is over: every connection ends now.
  void end_all();
  // A new configuration is active: connections it no longer allows end now.
  void recheck(const Runtime& runtime);

 private:
  static void end(const Entry& entry);
  void removed();

  std::list<Entry> entries_;
  bool draining_ = false;
  std::function<void()> on_empty_;
};

}  // namespace trproxy::proxy
