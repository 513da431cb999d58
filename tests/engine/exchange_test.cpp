// proxy::exchange() end to end over in-memory streams: a test client writes requests into the
// proxy's client stream, the proxy reads each head, rewrites it (a spoofed tenant-restriction
// line dropped, ours inserted) and runs the exchange against an upstream stream whose peer plays
// the server from a script. Every case runs with whole reads and again ground at one byte per
// read on both of the proxy's streams.

#include "proxy/session/exchange.hpp"
#include "proxy/observe/metrics.hpp"
#include "proxy/session/head_reader.hpp"
#include "rig.hpp"

#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

using namespace trproxy;
using namespace trproxy::test;
using proxy::ExchangeResult;
using proxy::HeadRead;

namespace {

constexpr std::string_view inserted =
    "Restrict-Access-To-Tenants: contoso.com\r\nRestrict-Access-Context: 00000000-0000\r\n";
constexpr std::string_view spoofed = "Restrict-Access-To-Tenants: evil.example\r\n";

// A request as the client writes it (with a spoofed line to drop) and as the upstream must see it.
struct Request {
  std::string line;                 // "GET / HTTP/1.1"
  std::vector<std::string> fields;  // "Name: value", without CRLF
  std::string body;                 // as framed on the wire

  [[nodiscard]] std::string head(bool rewritten) const {
    std::string out = line + "\r\n";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      out += fields[i] + "\r\n";
      if (i == 0 && !rewritten) out += spoofed;  // dropped by the rewrite wherever it is
    }
    if (rewritten) out += inserted;
    return out + "\r\n";
  }
  [[nodiscard]] std::string from_client() const { return head(false) + body; }
  [[nodiscard]] std::string to_upstream() const { return head(true) + body; }
};

Request get(std::string target = "/") {
  return {"GET " + target + " HTTP/1.1", {"Host: login.microsoftonline.com", "Accept: */*"}, ""};
}
Request post_length(std::string body) {
  return {"POST /common/oauth2/token HTTP/1.1",
          {"Host: login.microsoftonline.com", "Content-Length: " + std::to_string(body.size())},
          body};
}
Request post_chunked(std::string framed_body) {
  return {
      "POST /common/login HTTP/1.1", {"Host: login.microsoftonline.com", "Transfer-Encoding: chunked"}, framed_body};
}

// One turn of the scripted server: read `expect` bytes, then write `reply`.
struct Step {
  std::size_t expect = 0;
  std::string reply;
};

struct Scenario {
  std::string client_sends;  // in the client stream before the run (one write: may pipeline)
  std::vector<Step> server;
  bool server_closes = false;  // after its last reply (responses delimited by close)
  std::size_t requests = 1;    // exchanges the proxy runs at most
  // The client's second act: once it has received `wait_for` bytes, it sends `then_sends`.
  std::size_t wait_for = 0;
  std::string then_sends;
  // A session closes both sides after the exchanges; off, only the exchange's own closes count.
  bool proxy_closes = true;
  std::size_t read_size = std::numeric_limits<std::size_t>::max();
  // Every operation on the proxy's client or upstream stream from the n-th on fails (fail_count).
  std::size_t fail_client_at = std::numeric_limits<std::size_t>::max();
  std::size_t fail_upstream_at = std::numeric_limits<std::size_t>::max();
  // Watch the responses as from an auth host (outcome telemetry): Outcome::codes.
  bool watch = false;
  // The upstream connection was reused from the pool and the request may be sent again.
  bool replayable = false;
  std::string_view served = "intercepted hosts";  // ExchangeRequest::served
};

struct Outcome {
  std::string upstream_got;  // every byte that reached the server
  std::string client_got;    // every byte that reached the client
  std::vector<ExchangeResult> results;
  std::vector<HeadRead> head_reads;
  std::size_t upstream_buffer_left = 0;
  std::vector<std::optional<policy::BlockCode>> codes;  // per exchange, with Scenario::watch
  std::size_t confirms = 0;
  std::string client_buffer_left;  // unread client bytes after the last exchange
  bool proxy_done = false, server_done = false, client_done = false;
};

struct Rig {
  net::io_context ioc;
  beast::test::fail_count client_failure, upstream_failure;
  TestStream client, client_peer{ioc};  // proxy side, test client
  TestStream upstream, server{ioc};     // proxy side, test server
  beast::flat_buffer client_buffer, upstream_buffer;
  config::Limits limits;
  proxy::Metrics metrics;
  policy::RewriteEdits edits;

  explicit Rig(const Scenario& scenario)
      : client_failure(scenario.fail_client_at),
        upstream_failure(scenario.fail_upstream_at),
        client(ioc, client_failure),
        upstream(ioc, upstream_failure) {
    client.connect(client_peer);
    upstream.connect(server);
    edits.inserted = inserted;
  }
};

net::awaitable<void> run_proxy(Rig& rig, const Scenario& scenario, Outcome& out) {
  policy::RequestScanner scanner;
  policy::RequestHead head;
  for (std::size_t i = 0; i < scenario.requests; ++i) {
    const proxy::HeadDeadline deadline{proxy::Clock::now() + 5s, 5s};
    bool started = false;
    const auto read =
        co_await proxy::read_request_head(rig.client, rig.client_buffer, scanner, head, deadline, started);
    out.head_reads.push_back(read);
    if (read != HeadRead::complete) break;
    const auto bytes = proxy::view_of(rig.client_buffer);
    const auto pieces = policy::rewrite_head(bytes, head, rig.edits);
    auto request = proxy::ExchangeRequest::of(head);
    request.replayable = scenario.replayable;
    request.served = scenario.served;
    policy::DecodeBudget budget(1024 * 1024);
    policy::ResponseWatch watch(policy::HostClass::auth, budget);
    const auto result =
        co_await proxy::exchange(rig.client, rig.client_buffer, request, pieces, rig.upstream, rig.upstream_buffer,
                                 rig.limits, rig.metrics, scenario.watch ? &watch : nullptr);
    out.results.push_back(result);
    if (scenario.watch) {
      out.codes.push_back(watch.outcome());
      out.confirms += watch.restrict_access_confirm() ? 1 : 0;
    }
    if (!result.client_reusable) break;
  }
  out.upstream_buffer_left = rig.upstream_buffer.size();
  out.client_buffer_left = std::string(proxy::view_of(rig.client_buffer));
  if (scenario.proxy_closes) {
    rig.client.close();
    rig.upstream.close();
  }
  out.proxy_done = true;
}

net::awaitable<void> run_server(Rig& rig, const Scenario& scenario, Outcome& out) {
  for (const auto& step : scenario.server) {
    const auto got = co_await read_exactly(rig.server, step.expect);
    out.upstream_got += got;
    if (got.size() < step.expect) break;  // the proxy closed early: the assertions will tell
    co_await write_all(rig.server, step.reply);
  }
  if (scenario.server_closes) rig.server.close();
  const auto rest = co_await read_to_eof(rig.server);
  out.upstream_got += rest;
  out.server_done = true;
}

net::awaitable<void> run_client(Rig& rig, const Scenario& scenario, Outcome& out) {
  if (scenario.wait_for > 0) {
    const auto first = co_await read_exactly(rig.client_peer, scenario.wait_for);
    out.client_got += first;
    co_await write_all(rig.client_peer, scenario.then_sends);
  }
  const auto rest = co_await read_to_eof(rig.client_peer);
  out.client_got += rest;
  out.client_done = true;
}

Outcome run(const Scenario& scenario) {
  Rig rig(scenario);
  rig.client.read_size(scenario.read_size);
  rig.upstream.read_size(scenario.read_size);
  rig.client.append(scenario.client_sends);
  Outcome out;
  spawn(rig.ioc, run_proxy(rig, scenario, out));
  spawn(rig.ioc, run_server(rig, scenario, out));
  spawn(rig.ioc, run_client(rig, scenario, out));
  rig.ioc.run_for(5s);
  CHECK(out.proxy_done);
  CHECK(out.server_done);
  CHECK(out.client_done);
  return out;
}

// Whole reads, then one byte per read on both of the proxy's streams.
constexpr std::size_t whole = std::numeric_limits<std::size_t>::max();
// (as<>: Catch 2.13 deduces a generator of references from an lvalue first value.)
#define FOR_EACH_READ_SIZE(var)                                     \
  const std::size_t var = GENERATE(as<std::size_t>{}, whole, 1, 7); \
  INFO("read_size " << (var == whole ? std::string("whole") : std::to_string(var)))

const std::string ok_hello = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
const std::string ok_chunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";

}  // namespace

TEST_CASE("exchange: GET with a Content-Length response, byte for byte both ways") {
  FOR_EACH_READ_SIZE(read_size);
  const auto request = get("/common/oauth2/v2.0/authorize?client_id=1");
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(), ok_hello}};
  const auto out = run(s);
  CHECK(out.upstream_got == request.to_upstream());
  CHECK(out.client_got == ok_hello);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 200);
  CHECK(out.results[0].client_reusable);
  CHECK(out.results[0].upstream_reusable);
  CHECK(out.results[0].bytes_from_client == request.from_client().size());
  CHECK(out.results[0].bytes_to_client == ok_hello.size());
  CHECK(out.results[0].failure.empty());
}

TEST_CASE("exchange: request bodies framed by Content-Length and chunked pass through as they came") {
  FOR_EACH_READ_SIZE(read_size);
  const auto request = GENERATE(post_length("grant_type=password&username=a"),
                                post_chunked("5\r\nhello\r\n6;name=v\r\n world\r\n0\r\n\r\n"),
                                post_chunked("3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n"), post_length(""));
  INFO(request.line << " body " << request.body);
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(), ok_chunked}};
  const auto out = run(s);
  CHECK(out.upstream_got == request.to_upstream());
  CHECK(out.client_got == ok_chunked);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 200);
  CHECK(out.results[0].client_reusable);
  CHECK(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: chunked, Content-Length and until-close responses") {
  FOR_EACH_READ_SIZE(read_size);
  const auto request = get();
  SECTION("chunked with extensions and a trailer") {
    Scenario s;
    s.read_size = read_size;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), ok_chunked}};
    const auto out = run(s);
    CHECK(out.client_got == ok_chunked);
    REQUIRE(out.results.size() == 1);
    CHECK(out.results[0].upstream_reusable);
    CHECK(out.upstream_buffer_left == 0);
  }
  SECTION("Content-Length 0 and a 204") {
    const std::string responses[] = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n",
                                     "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"};
    for (const auto& response : responses) {
      Scenario s;
      s.read_size = read_size;
      s.client_sends = request.from_client();
      s.server = {{request.to_upstream().size(), response}};
      const auto out = run(s);
      CHECK(out.client_got == response);
      REQUIRE(out.results.size() == 1);
      CHECK(out.results[0].client_reusable);
      CHECK(out.results[0].upstream_reusable);
    }
  }
  SECTION("delimited by the upstream closing") {
    const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>until close</html>";
    Scenario s;
    s.read_size = read_size;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), response}};
    s.server_closes = true;
    const auto out = run(s);
    CHECK(out.upstream_got == request.to_upstream());
    CHECK(out.client_got == response);
    REQUIRE(out.results.size() == 1);
    CHECK(out.results[0].status == 200);
    CHECK_FALSE(out.results[0].client_reusable);  // the client learns the end from our close
    CHECK_FALSE(out.results[0].upstream_reusable);
  }
}

TEST_CASE("exchange: a response to HEAD announcing a body carries none, and none is read") {
  FOR_EACH_READ_SIZE(read_size);
  const std::string response = GENERATE(std::string("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
                                        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                                        std::string("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"));
  const Request request{"HEAD /favicon.ico HTTP/1.1", {"Host: login.live.com"}, ""};
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.from_client();
  // The server then waits without closing: an exchange that read a body would never end.
  s.server = {{request.to_upstream().size(), response}};
  const auto out = run(s);
  CHECK(out.upstream_got == request.to_upstream());
  CHECK(out.client_got == response);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 200);
  CHECK(out.results[0].client_reusable);
  CHECK(out.results[0].upstream_reusable);
  CHECK(out.upstream_buffer_left == 0);
}

TEST_CASE("exchange: two pipelined requests in one write are exchanged in turn on the same buffers") {
  FOR_EACH_READ_SIZE(read_size);
  const auto first = post_length("a=1&b=2");
  const auto second = get("/second");
  const auto third = post_chunked("2\r\nhi\r\n0\r\n\r\n");
  Scenario s;
  s.read_size = read_size;
  s.client_sends = first.from_client() + second.from_client() + third.from_client();
  s.requests = 3;
  const std::string second_response = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot";
  s.server = {{first.to_upstream().size(), ok_chunked},
              {second.to_upstream().size(), second_response},
              {third.to_upstream().size(), ok_hello}};
  const auto out = run(s);
  CHECK(out.upstream_got == first.to_upstream() + second.to_upstream() + third.to_upstream());
  CHECK(out.client_got == ok_chunked + second_response + ok_hello);
  REQUIRE(out.results.size() == 3);
  CHECK(out.results[0].status == 200);
  CHECK(out.results[1].status == 404);
  CHECK(out.results[2].status == 200);
  for (const auto& result : out.results) {
    CHECK(result.client_reusable);
    CHECK(result.upstream_reusable);
  }
  CHECK(out.results[0].bytes_from_client == first.from_client().size());
  CHECK(out.results[1].bytes_from_client == second.from_client().size());
}

TEST_CASE("exchange: Expect 100-continue, the client sends its body only after the interim response") {
  FOR_EACH_READ_SIZE(read_size);
  Request request = post_length("payload");
  request.fields.push_back("Expect: 100-continue");
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.head(false);  // the body waits for the 100
  s.wait_for = interim.size();
  s.then_sends = request.body;
  s.server = {{request.head(true).size(), interim}, {request.body.size(), ok_hello}};
  const auto out = run(s);
  CHECK(out.upstream_got == request.to_upstream());
  CHECK(out.client_got == interim + ok_hello);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 200);
  CHECK(out.results[0].client_reusable);
  CHECK(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: an upstream answering before the request body is complete ends the client connection") {
  FOR_EACH_READ_SIZE(read_size);
  const auto request = post_length("0123456789");
  const std::string response =
      GENERATE(std::string("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!"),
               std::string("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.head(false) + "012";  // and then nothing: the client waits
  s.server = {{request.head(true).size() + 3, response}};
  const auto out = run(s);
  CHECK(out.upstream_got == request.head(true) + "012");
  CHECK(out.client_got == response);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == (response.find("413") != std::string::npos ? 413 : 401));
  CHECK_FALSE(out.results[0].client_reusable);
  CHECK_FALSE(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: after an early final response the upstream connection is ended, not fed the rest of the body") {
  // A server that answered 413 need not read another byte: sending it the rest would wait on
  // its window until the idle timeout. The exchange stops the body and closes that connection
  // itself (the session's close is off here), and nothing sent after the response reaches it.
  FOR_EACH_READ_SIZE(read_size);
  const auto request = post_length("0123456789");
  const std::string response = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!";
  Scenario s;
  s.read_size = read_size;
  s.proxy_closes = false;
  s.client_sends = request.head(false) + "012";
  s.server = {{request.head(true).size() + 3, response}};
  s.wait_for = response.size();
  s.then_sends = "3456789";
  const auto out = run(s);  // checks that the server saw its connection end
  CHECK(out.upstream_got == request.head(true) + "012");
  CHECK(out.client_got == response);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 413);
  CHECK_FALSE(out.results[0].client_reusable);
  CHECK_FALSE(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: a protocol switch is refused with a 502 that names the hosts the exchange serves") {
  const std::string_view served =
      GENERATE(std::string_view("intercepted hosts"), std::string_view("plain-HTTP forwards"));
  Request request = get("/socket");
  request.fields.push_back("Connection: upgrade");
  request.fields.push_back("Upgrade: websocket");
  Scenario s;
  s.served = served;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(),
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nframes"}};
  const auto out = run(s);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 502);
  CHECK_THAT(out.client_got, Catch::StartsWith("HTTP/1.1 502 "));
  CHECK_THAT(out.client_got,
             Catch::Contains("upstream switched protocols (101); not supported on " + std::string(served)));
  CHECK(out.client_got.find("frames") == std::string::npos);
  CHECK_FALSE(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: a request body that breaks chunked framing forwards nothing after the fault") {
  FOR_EACH_READ_SIZE(read_size);
  const std::string valid = "5\r\nhello\r\n";
  // A broken chunk and how many of its bytes come before the offending one.
  const auto [fault, clean] = GENERATE(
      std::pair<std::string, std::size_t>{"ZZ\r\n", 0}, std::pair<std::string, std::size_t>{"3\r\nabcX\r\n", 6},
      std::pair<std::string, std::size_t>{"-1\r\n", 0}, std::pair<std::string, std::size_t>{"5\nhello\r\n", 1});
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: evil.example\r\n\r\n";
  const auto request = post_chunked(valid + fault + smuggled);
  INFO("fault " << fault);
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.from_client();
  s.proxy_closes = false;  // the exchange itself must close both sides
  const auto out = run(s);
  // The head reached the upstream, then at most the body's bytes before the offending one.
  const auto allowed = request.head(true) + valid + fault.substr(0, clean);
  CHECK(out.upstream_got.size() >= request.head(true).size());
  CHECK(out.upstream_got.size() <= allowed.size());
  CHECK(allowed.compare(0, out.upstream_got.size(), out.upstream_got) == 0);
  CHECK(out.client_got.empty());
  REQUIRE(out.results.size() == 1);
  CHECK_FALSE(out.results[0].client_reusable);
  CHECK_FALSE(out.results[0].upstream_reusable);
  CHECK_THAT(out.results[0].failure, Catch::StartsWith("request body"));
}

TEST_CASE("exchange: a malformed response head becomes our 502, with nothing of the upstream's head") {
  FOR_EACH_READ_SIZE(read_size);
  const std::string response =
      GENERATE(std::string("HTTP/1.1 200 OK\r\nX-Upstream-Secret: 1\r\nBad Header\r\n\r\nbody"),
               std::string("HTTP/1.1 200 OK\r\nX-Upstream-Secret: 1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
               std::string("HTTP/9.9 200 OK\r\nX-Upstream-Secret: 1\r\n\r\n"),
               std::string("HTTP/1.1 200 OK\r\nX-Upstream-Secret: 1\r\nX-Fold: a\r\n folded\r\n\r\n"));
  const auto request = get();
  Scenario s;
  s.read_size = read_size;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(), response}};
  s.proxy_closes = false;  // the exchange itself must close both sides
  const auto out = run(s);
  CHECK(out.upstream_got == request.to_upstream());
  CHECK_THAT(out.client_got, Catch::StartsWith("HTTP/1.1 502 "));
  CHECK(out.client_got.find("X-Upstream-Secret") == std::string::npos);
  CHECK(out.client_got.find("200 OK") == std::string::npos);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 502);
  CHECK_FALSE(out.results[0].client_reusable);
  CHECK_FALSE(out.results[0].upstream_reusable);
}

TEST_CASE("exchange: an upstream closing without a response becomes our 502") {
  const auto request = get();
  Scenario s;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(), "HTTP/1.1 200 OK\r\nContent-Le"}};
  s.server_closes = true;
  s.proxy_closes = false;
  const auto out = run(s);
  CHECK_THAT(out.client_got, Catch::StartsWith("HTTP/1.1 502 "));
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].status == 502);
  CHECK_FALSE(out.results[0].client_reusable);
}

TEST_CASE("exchange: a stream failing at any operation ends the exchange cleanly (failgrind)") {
  const auto request = post_length("grant_type=password");
  const std::string fault = GENERATE(std::string("upstream"), std::string("client"));
  INFO(fault << " stream fails");
  bool succeeded = false;
  for (std::size_t n = 1; n < 500 && !succeeded; ++n) {
    INFO("from operation " << n);
    Scenario s;
    s.read_size = 5;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), ok_chunked}};
    (fault == "upstream" ? s.fail_upstream_at : s.fail_client_at) = n;
    const auto out = run(s);  // checks that the proxy, the server and the client all finished
    const auto sent = request.to_upstream();
    CHECK(sent.compare(0, out.upstream_got.size(), out.upstream_got) == 0);
    const bool whole = out.client_got == ok_chunked;
    const bool ours = out.client_got.starts_with("HTTP/1.1 502 ");
    const bool cut = ok_chunked.starts_with(out.client_got);  // the failure came mid-response
    CHECK((whole || ours || cut));
    if (!out.results.empty() && !(whole && out.results[0].upstream_reusable)) {
      CHECK_FALSE(out.results[0].upstream_reusable);
      CHECK_FALSE(out.results[0].client_reusable);
    }
    succeeded = whole && out.results.size() == 1 && out.results[0].client_reusable &&
                out.results[0].upstream_reusable && out.upstream_got == sent;
  }
  CHECK(succeeded);  // past the exchange's last operation the fault no longer matters
}

TEST_CASE("exchange: a watched response passes byte for byte and its block code is found across chunks") {
  FOR_EACH_READ_SIZE(read_size);
  const auto first = get("/contoso.com/oauth2/authorize");
  const auto second = get("/common/x");
  // The code is cut by the chunk framing ("AADST" | "S5000211"); a longer code follows that must
  // not count; the second response has none but carries Restrict-Access-Confirm.
  const std::string blocked =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "f\r\n{\"error\":\"AADST\r\n1d\r\nS5000211: blocked AADSTS50002\r\n4\r\n111\"\r\n1\r\n}\r\n0\r\n\r\n";
  const std::string confirmed =
      "HTTP/1.1 302 Found\r\nRestrict-Access-Confirm: 1\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n"
      "AADSTS500021";
  Scenario s;
  s.read_size = read_size;
  s.watch = true;
  s.requests = 2;
  s.client_sends = first.from_client() + second.from_client();
  s.server = {{first.to_upstream().size(), blocked}, {second.to_upstream().size(), confirmed}};
  const auto out = run(s);
  CHECK(out.client_got == blocked + confirmed);
  REQUIRE(out.codes.size() == 2);
  CHECK(out.codes[0] == policy::BlockCode::aadsts5000211);
  CHECK(out.codes[1] == policy::BlockCode::aadsts500021);  // the whole body, ended by its length
  CHECK(out.confirms == 1);
}

TEST_CASE(
    "exchange: a replayable request on a reused connection the server closed asks for a retry, answering nothing") {
  FOR_EACH_READ_SIZE(read_size);
  const auto request = get("/common/discovery");
  SECTION("closed after reading the request") {
    Scenario s;
    s.read_size = read_size;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), ""}};
    s.server_closes = true;
    s.replayable = true;
    const auto out = run(s);
    REQUIRE(out.results.size() == 1);
    CHECK(out.results[0].retry);
    CHECK(out.client_got.empty());                           // no 502: the caller sends the request again
    CHECK(out.client_buffer_left == request.from_client());  // the head is still there to resend
    CHECK_FALSE(out.results[0].upstream_reusable);
    CHECK(out.results[0].bytes_to_client == 0);
  }
  SECTION("the write fails") {
    Scenario s;
    s.read_size = read_size;
    s.client_sends = request.from_client();
    s.fail_upstream_at = 0;  // the first operation: the write of the head
    s.replayable = true;
    const auto out = run(s);
    REQUIRE(out.results.size() == 1);
    CHECK(out.results[0].retry);
    CHECK(out.client_got.empty());
    CHECK(out.client_buffer_left == request.from_client());
  }
}

TEST_CASE("exchange: no retry once a response byte came, or for a request that was not replayable") {
  const auto request = get();
  SECTION("part of a head, then close") {
    Scenario s;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), "HTTP/1.1 2"}};
    s.server_closes = true;
    s.replayable = true;
    s.proxy_closes = false;
    const auto out = run(s);
    REQUIRE(out.results.size() == 1);
    CHECK_FALSE(out.results[0].retry);
    CHECK_THAT(out.client_got, Catch::StartsWith("HTTP/1.1 502 "));
  }
  SECTION("a fresh connection") {
    Scenario s;
    s.client_sends = request.from_client();
    s.server = {{request.to_upstream().size(), ""}};
    s.server_closes = true;
    s.proxy_closes = false;
    const auto out = run(s);
    REQUIRE(out.results.size() == 1);
    CHECK_FALSE(out.results[0].retry);
    CHECK_THAT(out.client_got, Catch::StartsWith("HTTP/1.1 502 "));
  }
}

TEST_CASE("exchange: an NTLM or Negotiate challenge is reported so the session pins the connection") {
  const auto request = get();
  const std::string challenge =
      GENERATE(std::string("NTLM"), std::string("Negotiate"), std::string("Basic realm=\"x\""));
  const std::string response =
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: " + challenge + "\r\nContent-Length: 0\r\n\r\n";
  Scenario s;
  s.client_sends = request.from_client();
  s.server = {{request.to_upstream().size(), response}};
  const auto out = run(s);
  CHECK(out.client_got == response);
  REQUIRE(out.results.size() == 1);
  CHECK(out.results[0].upstream_reusable);
  CHECK(out.results[0].connection_auth == (challenge != "Basic realm=\"x\""));
}
