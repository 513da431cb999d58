// proxy::read_request_head over in-memory streams: splits, pipelined bytes, and the absolute
// head deadline against a client that trickles.

#include "proxy/session/head_reader.hpp"
#include "rig.hpp"

#include <optional>

using namespace trproxy;
using namespace trproxy::test;
using proxy::Clock;
using proxy::HeadDeadline;
using proxy::HeadRead;

namespace {

const std::string head_text =
    "POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Length: 4\r\n"
    "Restrict-Access-To-Tenants: evil.example\r\n\r\n";

struct Reader {
  net::io_context ioc;
  TestStream stream{ioc}, peer{ioc};  // the proxy's side, the client
  beast::flat_buffer buffer;
  policy::RequestScanner scanner;
  policy::RequestHead head;
  std::optional<HeadRead> read;
  bool started = false;
  Clock::duration took{};
  Clock::time_point ended{};

  Reader() { stream.connect(peer); }

  net::awaitable<void> read_head(HeadDeadline deadline) {
    const auto start = Clock::now();
    read = co_await proxy::read_request_head(stream, buffer, scanner, head, deadline, started);
    ended = Clock::now();
    took = ended - start;
  }
};

HeadDeadline in(std::chrono::milliseconds whole_head) {
  return {Clock::now() + 5s, whole_head};
}

// Writes `text` a byte at a time, `every` apart, until done or told to stop.
net::awaitable<void> trickle(TestStream& peer, std::string text, std::chrono::milliseconds every, const bool& stop) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (std::size_t i = 0; i < text.size() && !stop; ++i) {
    const std::string_view byte = std::string_view(text).substr(i, 1);
    co_await write_all(peer, byte);
    timer.expires_after(every);
    co_await timer.async_wait(use_tuple);
  }
}

// Stops a trickle once the reader is done, so a case ends as soon as it can.
net::awaitable<void> stop_when_read(const Reader& r, bool& stop) {
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!r.read) {
    timer.expires_after(5ms);
    co_await timer.async_wait(use_tuple);
  }
  stop = true;
}

}  // namespace

TEST_CASE("read_request_head: a head split at every offset completes") {
  for (std::size_t split = 1; split < head_text.size(); ++split) {
    INFO("split " << split);
    Reader r;
    r.stream.append(std::string_view(head_text).substr(0, split));
    spawn(r.ioc, r.read_head(in(5s)));
    // The rest arrives once the reader has taken the first part and waits for more.
    auto rest = [](Reader& r, std::string text) -> net::awaitable<void> {
      for (int i = 0; i < 1000 && r.stream.nread() < 2; ++i) co_await net::post(r.ioc, net::use_awaitable);
      REQUIRE(r.stream.nread() >= 2);
      co_await write_all(r.peer, text);
    };
    spawn(r.ioc, rest(r, head_text.substr(split)));
    r.ioc.run_for(5s);
    REQUIRE(r.read == HeadRead::complete);
    CHECK(r.started);
    CHECK(r.head.end == head_text.size());
    CHECK(r.buffer.size() == head_text.size());
    const auto bytes = proxy::view_of(r.buffer);
    CHECK(r.head.method.in(bytes) == "POST");
    CHECK(r.head.host.in(bytes) == "login.microsoftonline.com");
    CHECK(r.head.content_length == 4);
    CHECK(r.head.removable_count == 1);
  }
}

TEST_CASE("read_request_head: bytes pipelined behind a head stay in the buffer") {
  Reader r;
  const std::string second = "GET /next HTTP/1.1\r\nHost: login.live.com\r\n\r\n";
  r.stream.append(head_text + "body" + second.substr(0, 10));
  spawn(r.ioc, r.read_head(in(5s)));
  r.ioc.run_for(5s);
  REQUIRE(r.read == HeadRead::complete);
  CHECK(r.head.end == head_text.size());
  CHECK(proxy::view_of(r.buffer).substr(r.head.end) == "body" + second.substr(0, 10));

  // The next head starts in the buffer: no wait for a first byte, and the rest completes it.
  r.buffer.consume(r.head.end + 4);
  r.ioc.restart();
  spawn(r.ioc, r.read_head(in(5s)));
  auto rest = [](Reader& r, std::string text) -> net::awaitable<void> { co_await write_all(r.peer, text); };
  spawn(r.ioc, rest(r, second.substr(10)));
  r.ioc.run_for(5s);
  REQUIRE(r.read == HeadRead::complete);
  CHECK(r.started);
  CHECK(r.head.method.in(proxy::view_of(r.buffer)) == "GET");
  CHECK(r.head.target.in(proxy::view_of(r.buffer)) == "/next");
  CHECK(r.buffer.size() == second.size());
}

TEST_CASE("read_request_head: a malformed head is invalid, a client closing mid-head is closed") {
  {
    Reader r;
    r.stream.append("GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n");
    spawn(r.ioc, r.read_head(in(5s)));
    r.ioc.run_for(5s);
    CHECK(r.read == HeadRead::invalid);
  }
  {
    Reader r;
    r.stream.append("GET / HTTP/1.1\r\nHost: a\r\n");
    r.stream.close_remote();
    spawn(r.ioc, r.read_head(in(5s)));
    r.ioc.run_for(5s);
    CHECK(r.read == HeadRead::closed);
    CHECK(r.started);
  }
  {
    Reader r;  // a client that closes before its first byte
    r.stream.close_remote();
    spawn(r.ioc, r.read_head(in(5s)));
    r.ioc.run_for(5s);
    CHECK(r.read == HeadRead::closed);
    CHECK_FALSE(r.started);
  }
}

// A test stream ignores per-operation cancellation, so when within()'s timer wins, the read it
// cancelled ends only with the next trickled byte (a socket's read ends at once): the upper
// bounds below allow for that.
TEST_CASE("read_request_head: a trickling client gets the whole head deadline from its first byte, not per read") {
  SECTION("not whole by the deadline: timed out") {
    Reader r;
    bool stop = false;
    const auto deadline = 150ms;
    spawn(r.ioc, r.read_head(in(deadline)));
    spawn(r.ioc, trickle(r.peer, head_text, 15ms, stop));  // ~2 s for the whole head
    spawn(r.ioc, stop_when_read(r, stop));
    r.ioc.run_for(5s);
    REQUIRE(r.read == HeadRead::timed_out);
    CHECK(r.started);
    CHECK(r.took >= deadline);
    CHECK(r.took < deadline + 1s);  // far below the ~2 s a whole head would take
    CHECK(r.buffer.size() < head_text.size());
  }
  SECTION("the first request's absolute bound (accept + head_timeout) applies too") {
    Reader r;
    bool stop = false;
    const auto latest = Clock::now() + 100ms;
    const HeadDeadline deadline{Clock::now() + 5s, 5s, latest};
    spawn(r.ioc, r.read_head(deadline));
    spawn(r.ioc, trickle(r.peer, head_text, 15ms, stop));
    spawn(r.ioc, stop_when_read(r, stop));
    r.ioc.run_for(5s);
    REQUIRE(r.read == HeadRead::timed_out);
    CHECK(r.ended >= latest);  // the bound is a moment, not a span from the read's start
    CHECK(r.ended < latest + 1s);
  }
  SECTION("whole before the deadline: complete") {
    Reader r;
    bool stop = false;
    const std::string short_head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    // ~30-60 ms of trickle against a deadline far beyond it: a loaded machine or a sanitizer
    // slows the 27 timer wake-ups, and what is asserted is that many reads make one head.
    spawn(r.ioc, r.read_head(in(5s)));
    spawn(r.ioc, trickle(r.peer, short_head, 1ms, stop));
    r.ioc.run_for(10s);
    REQUIRE(r.read == HeadRead::complete);
    CHECK(r.buffer.size() == short_head.size());
    CHECK(r.head.end == short_head.size());
  }
}
