// A client connection's session in this process, below the end-to-end tests: a real Worker runs
// serve_client for connections from the real accept loop, a blocking client talks to it over
// loopback, and an echo server stands in for a tunnelled destination. The sessions' own I/O is
// Beast's tcp_stream and the tunnel relay splices between sockets, so they run on real sockets
// rather than in-memory streams; everything else (runtime, registry, pool) is the engine's own.

#include "config/loader.hpp"
#include "proxy/server/acceptor.hpp"
#include "proxy/worker/runtime.hpp"
#include "proxy/worker/worker.hpp"
#include "tls/ca.hpp"

#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <future>
#include <string>
#include <thread>

using namespace trproxy;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A blocking loopback client with bounded waits.
struct Client {
  int fd = -1;
  explicit Client(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval bound{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  }
  ~Client() { ::close(fd); }
  void send(std::string_view bytes) const {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `bytes` more have come, or the proxy closed (fewer), or the bound ran out.
  [[nodiscard]] std::string read(std::size_t bytes) const {
    std::string out;
    char chunk[4096];
    while (out.size() < bytes) {
      const auto n = ::recv(fd, chunk, std::min(sizeof chunk, bytes - out.size()), 0);
      if (n <= 0) break;
      out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
  }
  // One response: its head, then Content-Length bytes of body.
  [[nodiscard]] std::string response() const {
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      const auto byte = read(1);
      if (byte.empty()) return head;
      head += byte;
    }
    const auto at = head.find("Content-Length: ");
    const auto length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
    return head + read(length);
  }
  [[nodiscard]] bool closed_by_peer() const { return read(1).empty(); }
};

// A TCP echo server on loopback (one connection at a time), for the tunnels.
struct Echo {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::uint16_t port = 0;
  std::thread thread;
  Echo() {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t length = sizeof at;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &length);
    port = ntohs(at.sin_port);
    thread = std::thread([this] {
      for (;;) {
        const int peer = ::accept(fd, nullptr, nullptr);
        if (peer < 0) return;
        char chunk[4096];
        for (ssize_t n; (n = ::recv(peer, chunk, sizeof chunk, 0)) > 0;) ::send(peer, chunk, n, MSG_NOSIGNAL);
        ::close(peer);
      }
    });
  }
  ~Echo() {
    ::shutdown(fd, SHUT_RDWR);
    thread.join();
    ::close(fd);
  }
};

// The engine's process-wide state and one worker, with the accept loop on a control thread.
struct Engine {
  std::filesystem::path dir;
  proxy::RuntimePtr runtime;
  proxy::MetricsRegistry metrics{1};
  proxy::ClientShares shares;
  proxy::SignInMetrics sign_in{1};
  proxy::AccessLog access_log{""};
  proxy::LeafMinter minter;
  policy::SelfEndpoints self;
  proxy::Workers workers;      // before the control context: its pending accept holds a
  net::io_context control{1};  // socket of the worker's context (as in run_server)
  tcp::acceptor acceptor{control};
  std::thread control_thread;

  explicit Engine(std::uint16_t connect_port)
      : dir(std::filesystem::temp_directory_path() / ("trproxy-session-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    tls::CertificateAuthority::create(dir, {});
    const auto yaml = std::string(R"(
tenant_restrictions:
  v2:
    tenant_id: "aaaabbbb-0000-cccc-1111-dddd2222eeee"
    policy_id: "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5"
ca: {cert: ca.crt, key: ca.key}
log: {access: ""}
egress: {deny: [], connect_ports: [443, )") +
                      std::to_string(connect_port) + "]}\n";
    runtime = proxy::build_runtime(config::load_config_text(yaml, dir), nullptr);
    acceptor = proxy::open_acceptor(control, config::Endpoint{"127.0.0.1", 0});
    const proxy::Services services{
        metrics.shard(0), metrics.active_connections, shares, access_log, minter, self, port(), sign_in};
    workers.push_back(std::make_unique<proxy::Worker>(0, runtime, services));
    workers.front()->start();
    net::co_spawn(control,
                  proxy::accept_loop(acceptor, workers, metrics.accept_pauses(proxy::MetricsRegistry::Listener::proxy)),
                  net::detached);
    control_thread = std::thread([this] { control.run(); });
  }
  ~Engine() {
    // As a drain past its grace does: every connection ends and unwinds before the worker stops
    // (a session frame left in a stopped io_context would outlive the registry it is listed in).
    std::promise<void> empty;
    on_worker([&](proxy::Worker& worker) {
      worker.registry().start_drain([&] { empty.set_value(); });
      worker.registry().end_all();
    });
    empty.get_future().wait_for(std::chrono::seconds(10));
    control.stop();
    control_thread.join();
    workers.front()->stop();
    workers.front()->join();
    minter.stop();
    std::filesystem::remove_all(dir);
  }
  [[nodiscard]] std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  proxy::Worker& worker() { return *workers.front(); }
  // Runs `task` on the worker's thread and waits for it.
  template <class Task>
  void on_worker(Task task) {
    std::promise<void> done;
    net::post(worker().io(), [&] {
      task(worker());
      done.set_value();
    });
    done.get_future().wait();
  }
};

const std::string pac_request = "GET /proxy.pac HTTP/1.1\r\nHost: proxy.test\r\n\r\n";
const std::string wpad_request = "GET /wpad.dat HTTP/1.1\r\nHost: proxy.test\r\n\r\n";

}  // namespace

TEST_CASE("session: pipelined requests are answered in order, then a CONNECT takes the connection over") {
  Echo echo;
  Engine engine(echo.port);
  Client client(engine.port());
  client.send(pac_request + wpad_request);  // two requests in one write
  const auto first = client.response();
  const auto second = client.response();
  CHECK_THAT(first, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(first, Catch::Contains("PROXY proxy.test:" + std::to_string(engine.port())));
  CHECK_THAT(second, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(second, Catch::Contains("FindProxyForURL"));

  // The same connection, now a CONNECT: the tunnel relays bytes that are not TLS at once.
  const auto authority = "127.0.0.1:" + std::to_string(echo.port);
  client.send("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
  const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
  CHECK(client.read(established.size()) == established);
  client.send("ping, not TLS");
  CHECK(client.read(13) == "ping, not TLS");
}

TEST_CASE("session: a drain ends an idle kept-alive connection at once") {
  Echo echo;
  Engine engine(echo.port);
  Client client(engine.port());
  client.send(pac_request);
  CHECK_THAT(client.response(), Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  // Now idle between requests: the drain ends it (the client reads EOF, not a timeout), and the
  // drain is over once the session has unwound (the registry calls back from the worker).
  std::promise<void> over;
  engine.on_worker([&](proxy::Worker& worker) { worker.registry().start_drain([&] { over.set_value(); }); });
  CHECK(client.closed_by_peer());
  CHECK(over.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
}

TEST_CASE("session: a request head the scanner refuses gets its status and one-line reason, and the connection ends") {
  Echo echo;
  Engine engine(echo.port);
  Client client(engine.port());
  client.send(
      "GET http://plain.example/ HTTP/1.1\r\nHost: plain.example\r\nConnection: keep-alive, "
      "Restrict-Access-Context\r\n\r\n");
  const auto answer = client.response();
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 400 "));
  CHECK_THAT(answer, Catch::Contains("Connection header names a tenant-restriction field"));
  CHECK(client.closed_by_peer());
}
