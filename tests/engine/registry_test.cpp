// The connection registry against real sockets (socket pairs): drain ends idle connections at
// once and keeps busy ones, says when the last one has gone, and a reload's recheck or the end
// of the grace period ends connections by shutting their sockets down (the peer reads EOF).

#include "proxy/worker/registry.hpp"
#include "proxy/transport/pipe_pool.hpp"
#include "proxy/worker/runtime.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <optional>

using namespace trproxy;
using proxy::ConnectionRegistry;

namespace {

// Both ends of a connected stream socket pair; `ours` is what the registry knows.
struct Pair {
  int ours = -1, peer = -1;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    ours = fds[0];
    peer = fds[1];
  }
  ~Pair() {
    ::close(ours);
    ::close(peer);
  }
  // The registry shut our end down: the peer reads EOF at once (without blocking).
  [[nodiscard]] bool ended() const {
    char byte;
    return ::recv(peer, &byte, 1, MSG_DONTWAIT) == 0;
  }
};

}  // namespace

TEST_CASE("registry: a drain ends idle connections now, busy ones when they finish") {
  ConnectionRegistry registry;
  Pair idle, busy, idle_with_request;
  bool empty = false;
  {
    ConnectionRegistry::Registration a(registry, idle.ours);
    std::optional<ConnectionRegistry::Registration> b(std::in_place, registry, busy.ours);
    ConnectionRegistry::Registration c(registry, idle_with_request.ours);
    a->idle = true;
    c->idle = true;
    REQUIRE(::send(idle_with_request.peer, "G", 1, 0) == 1);  // a request already on its way
    registry.start_drain([&] { empty = true; });
    CHECK(registry.draining());
    CHECK(idle.ended());
    CHECK_FALSE(busy.ended());
    CHECK_FALSE(idle_with_request.ended());  // it gets the grace period for that request
    b.reset();
    CHECK_FALSE(empty);
    CHECK(registry.size() == 2);
  }
  CHECK(empty);  // the last one went: the drain is over
}

TEST_CASE("registry: a drain with nothing open is over at once; end_all and recheck end what they name") {
  ConnectionRegistry empty_registry;
  bool over = false;
  empty_registry.start_drain([&] { over = true; });
  CHECK(over);

  ConnectionRegistry registry;
  Pair allowed, disallowed, other;
  ConnectionRegistry::Registration a(registry, allowed.ours);
  ConnectionRegistry::Registration b(registry, disallowed.ours);
  ConnectionRegistry::Registration c(registry, other.ours);
  a->still_allowed = [](const proxy::Runtime&) { return true; };
  b->still_allowed = [](const proxy::Runtime&) { return false; };
  const proxy::Runtime next{};  // the rules above never read it
  registry.recheck(next);
  CHECK_FALSE(allowed.ended());
  CHECK(disallowed.ended());
  CHECK_FALSE(other.ended());
  registry.end_all();
  CHECK(allowed.ended());
  CHECK(other.ended());
}

TEST_CASE("pipe pool: pipes are reused up to the spare bound, the rest closed") {
  proxy::PipePool pool(2);
  auto first = pool.take();
  auto second = pool.take();
  auto third = pool.take();
  REQUIRE(first.valid());
  REQUIRE(second.valid());
  REQUIRE(third.valid());
  const int first_read_end = first.read_end();
  pool.give(std::move(first));
  pool.give(std::move(second));
  pool.give(std::move(third));  // over the bound: closed
  CHECK(pool.spare() == 2);
  CHECK_FALSE(first.valid());  // moved into the pool
  auto again = pool.take();
  auto again2 = pool.take();
  CHECK((again.read_end() == first_read_end || again2.read_end() == first_read_end));
  CHECK(pool.spare() == 0);
  pool.give(proxy::Pipe{});  // an invalid pipe (pipe2 failed) is not kept
  CHECK(pool.spare() == 0);
}
