#pragma once
// systemd's service notification protocol (sd_notify(3)), spoken directly: one datagram of
// "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET. It is a stable, documented
// interface (systemd's "Interface Portability and Stability" promise; sd_notify(3) shows a
// standalone implementation), so trproxy does not link libsystemd for ~40 lines: the container
// image and the Debian package carry one library less. Without $NOTIFY_SOCKET (not started by
// systemd with Type=notify) every call does nothing.

#include <chrono>
#include <string>
#include <string_view>

namespace trproxy::proxy {

// The datagrams, built apart from the socket so tests can read them.
std::string ready_message(std::string_view status);
std::string reloading_message(std::string_view status, std::chrono::microseconds monotonic_now);
std::string stopping_message(std::string_view status);

class SystemdNotifier {
 public:
  // The socket of $NOTIFY_SOCKET: an absolute path, or "@name" for the abstract namespace.
  static SystemdNotifier from_environment();
  explicit SystemdNotifier(std::string socket_path) : socket_path_(std::move(socket_path)) {}

  // Each returns "" when sent (or when not enabled), else why not, for the caller's log.
  // READY=1: the listeners accept and the CA is loaded (start-up), or a reload has ended.
  [[nodiscard]] std::string ready(std::string_view status) const;
  // RELOADING=1 with MONOTONIC_USEC (systemd 253's Type=notify-reload needs it; older ones ignore it).
  [[nodiscard]] std::string reloading(std::string_view status) const;
  // STOPPING=1: SIGTERM/SIGINT began the drain.
  [[nodiscard]] std::string stopping(std::string_view status) const;

  [[nodiscard]] bool enabled() const { return !socket_path_.empty(); }

 private:
  // Best effort, never blocking: a lost notification must not stall the proxy.
  [[nodiscard]] std::string send(const std::string& message) const;
  std::string socket_path_;
};

}  // namespace trproxy::proxy
