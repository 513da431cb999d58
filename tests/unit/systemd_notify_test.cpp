// systemd notification datagrams (sd_notify(3)): their text, and their delivery to a socket.
#include "proxy/server/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

using namespace trproxy::proxy;

TEST_CASE("notification datagrams are KEY=value lines; STATUS stays one line") {
  CHECK(ready_message("serving") == "READY=1\nSTATUS=serving\n");
  CHECK(reloading_message("reloading", std::chrono::microseconds(123456789)) ==
        "RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading\n");
  CHECK(stopping_message("draining") == "STOPPING=1\nSTATUS=draining\n");
  // A reload error quoting a config line must not smuggle in READY=1 or anything else.
  CHECK(ready_message("bad\nREADY=1\r\nx") == "READY=1\nSTATUS=bad READY=1  x\n");
}

TEST_CASE("a notifier sends to a socket path, and says why it cannot") {
  const auto path = std::filesystem::temp_directory_path() / ("trproxy-notify-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);

  const SystemdNotifier notifier(path.string());
  CHECK(notifier.enabled());
  CHECK(notifier.stopping("bye").empty());
  char buffer[256] = {};
  const auto n = ::recv(fd, buffer, sizeof buffer - 1, MSG_DONTWAIT);
  CHECK(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0) == "STOPPING=1\nSTATUS=bye\n");
  ::close(fd);
  std::filesystem::remove(path);

  CHECK_THAT(notifier.ready("x"), Catch::Contains(path.string()));  // nobody listens any more
  CHECK_THAT(SystemdNotifier("relative/path").ready("x"), Catch::Contains("not an absolute path"));
  CHECK(SystemdNotifier("").ready("x").empty());  // not started by systemd: nothing to do
  CHECK_FALSE(SystemdNotifier("").enabled());
}
