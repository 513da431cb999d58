// The egress "self" rule asks the kernel whether an address is this machine's at the moment of
// the dial. Proven against a real kernel: loopback, a TEST-NET address that is nobody's, and an
// address added to a private network namespace after the first question (a list read at start
// said "not mine" to it for the rest of the process's life).

#include "proxy/transport/local_address.hpp"

#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

using namespace trproxy;

namespace {

config::IpAddress ip(const char* text) {
  return *config::parse_ip(text);
}

}  // namespace

TEST_CASE("is_local_address: loopback is local, a TEST-NET address is not") {
  CHECK(proxy::is_local_address(ip("127.0.0.1")));
  CHECK(proxy::is_local_address(ip("127.0.0.7")));  // the whole 127/8 is routed to lo
  CHECK_FALSE(proxy::is_local_address(ip("192.0.2.77")));
  CHECK_FALSE(proxy::is_local_address(ip("2001:db8::77")));
}

TEST_CASE("is_local_address: an address added while running is local at once") {
  if (::geteuid() != 0) {
    WARN("needs root for a private network namespace; skipped");
    return;
  }
  // A child of its own: the namespace is the child's, and an address added there is seen nowhere
  // else. Exit codes: 0 ok, 10+ the step that failed.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
    if (std::system("ip link set lo up && ip addr add 198.51.100.9/32 dev lo && ip addr add 2001:db8::9/128 dev lo") !=
        0) {
      ::_exit(11);
    }
    const bool v4 = proxy::is_local_address(ip("198.51.100.9"));
    const bool v6 = proxy::is_local_address(ip("2001:db8::9"));
    const bool other = proxy::is_local_address(ip("198.51.100.10"));
    if (std::system("ip addr del 198.51.100.9/32 dev lo") != 0) ::_exit(12);
    const bool removed = proxy::is_local_address(ip("198.51.100.9"));
    ::_exit(v4 && v6 && !other && !removed ? 0 : 13);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
