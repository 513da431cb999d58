#include "proxy/server/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace trproxy::proxy {
namespace {

// STATUS= is one line: a newline would start another (possibly meaningful) assignment.
std::string status_line(std::string_view status) {
  std::string line = "STATUS=";
  for (const char c : status) line += (c == '\n' || c == '\r') ? ' ' : c;
  return line + "\n";
}

std::chrono::microseconds monotonic_clock_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::microseconds(now.tv_nsec / 1000);
}

}  // namespace

std::string ready_message(std::string_view status) {
  return "READY=1\n" + status_line(status);
}

std::string reloading_message(std::string_view status, std::chrono::microseconds monotonic_now) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_now.count()) + "\n" + status_line(status);
}

std::string stopping_message(std::string_view status) {
  return "STOPPING=1\n" + status_line(status);
}

SystemdNotifier SystemdNotifier::from_environment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  return SystemdNotifier(path ? path : "");
}

std::string SystemdNotifier::ready(std::string_view status) const {
  return enabled() ? send(ready_message(status)) : "";
}

std::string SystemdNotifier::reloading(std::string_view status) const {
  return enabled() ? send(reloading_message(status, monotonic_clock_now())) : "";
}

std::string SystemdNotifier::stopping(std::string_view status) const {
  return enabled() ? send(stopping_message(status)) : "";
}

std::string SystemdNotifier::send(const std::string& message) const {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const bool abstract = socket_path_[0] == '@';
  if ((!abstract && socket_path_[0] != '/') || socket_path_.size() >= sizeof address.sun_path) {
    return "NOTIFY_SOCKET \"" + socket_path_ + "\" is not an absolute path or @name";
  }
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  if (abstract) address.sun_path[0] = '\0';
  const auto length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size() + (abstract ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  std::string error;
  if (::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&address), length) < 0) {
    error = socket_path_ + ": " + std::strerror(errno);
  }
  ::close(fd);
  return error;
}

}  // namespace trproxy::proxy
