// proxy::TlsSocketStream's wait for input over a real loopback TLS connection, and the worker's
// BufferPool: an idle intercepted connection waits holding no read buffer, a wait never blocks
// on the socket while OpenSSL already holds what the next read returns, and a record read
// behind the one returned is seen by the reuse check (issue 19: the pool answered the wrong
// client with such a record).

#include "proxy/transport/tls_socket_stream.hpp"
#include "proxy/transport/buffer_pool.hpp"
#include "proxy/transport/stream_ops.hpp"
#include "rig.hpp"
#include "tls/ca.hpp"
#include "tls/leaf.hpp"

#include <unistd.h>
#include <ctime>
#include <filesystem>
#include <optional>

using namespace trproxy;
using namespace trproxy::test;
using proxy::error_code;
using proxy::tcp;

namespace {

struct Loopback {
  net::io_context ioc;
  std::unique_ptr<tls::CertificateAuthority> ca;
  tls::ServerTls server_tls;
  tls::LeafPtr leaf;
  net::ssl::context client_ctx{net::ssl::context::tls_client};
  std::optional<proxy::TlsSocketStream> server;
  std::optional<net::ssl::stream<tcp::socket>> client;

  Loopback() {
    const auto dir = std::filesystem::temp_directory_path() / ("trproxy-client-tls-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    tls::CertificateAuthority::create(dir, tls::CaOptions{});
    ca = std::make_unique<tls::CertificateAuthority>(tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key"));
    std::filesystem::remove_all(dir);
    leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256), config::LeafKeyType::ec_p256,
                          "login.microsoftonline.com", std::time(nullptr));
    client_ctx.set_verify_mode(net::ssl::verify_none);  // the stream under test is the server side
  }

  // Connects over 127.0.0.1 and completes both handshakes.
  net::awaitable<void> connect() {
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
    tcp::socket client_socket(ioc);
    co_await client_socket.async_connect(acceptor.local_endpoint(), net::use_awaitable);
    auto accepted = co_await acceptor.async_accept(net::use_awaitable);
    server.emplace(proxy::beast::tcp_stream(std::move(accepted)), server_tls.new_session(*leaf, ca->cert()));
    client.emplace(std::move(client_socket), client_ctx);
    using namespace net::experimental::awaitable_operators;
    auto client_side = client->async_handshake(net::ssl::stream_base::client, use_tuple);
    auto server_side = server->async_handshake(net::ssl::stream_base::server, net::const_buffer{}, use_tuple);
    auto [client_ec, server_result] = co_await (std::move(client_side) && std::move(server_side));
    REQUIRE_FALSE(client_ec);
    REQUIRE_FALSE(std::get<0>(server_result));
  }

  net::awaitable<void> client_writes(std::string_view text) {
    auto [ec, n] = co_await net::async_write(*client, net::buffer(text.data(), text.size()), use_tuple);
    REQUIRE_FALSE(ec);
  }

  void run(net::awaitable<void> body) {
    spawn(ioc, std::move(body));
    ioc.run_for(5s);
    REQUIRE(ioc.stopped());  // the case finished: nothing waited on a socket that stays quiet
  }
};

}  // namespace

TEST_CASE("TLS socket stream: an idle wait holds no buffer and ends when the client sends") {
  Loopback loop;
  std::string got;
  loop.run([&]() -> net::awaitable<void> {
    co_await loop.connect();
    auto sent = loop.client_writes("GET / HTTP/1.1\r\n\r\n");
    auto waited = loop.server->async_wait_input(use_tuple);
    using namespace net::experimental::awaitable_operators;
    auto [wait_ec] = co_await (std::move(sent) && std::move(waited));
    REQUIRE_FALSE(wait_ec);
    char chunk[64];
    auto [ec, n] = co_await loop.server->async_read_some(net::buffer(chunk), use_tuple);
    REQUIRE_FALSE(ec);
    got.assign(chunk, n);
    loop.client->next_layer().close();
    loop.server->next_layer().close();
  }());
  CHECK(got == "GET / HTTP/1.1\r\n\r\n");
}

TEST_CASE("TLS socket stream: a wait ends at once when OpenSSL already holds the next bytes") {
  Loopback loop;
  std::string first, rest;
  loop.run([&]() -> net::awaitable<void> {
    co_await loop.connect();
    co_await loop.client_writes("ab");  // one record
    char one = 0;
    auto [ec, n] = co_await loop.server->async_read_some(net::buffer(&one, 1), use_tuple);
    REQUIRE_FALSE(ec);
    first.assign(&one, n);
    // "b" is decrypted and held by OpenSSL; the client sends nothing more, so a wait on the
    // socket would never end (run() fails the case after 5 s).
    auto [wait_ec] = co_await loop.server->async_wait_input(use_tuple);
    REQUIRE_FALSE(wait_ec);
    auto [ec2, n2] = co_await loop.server->async_read_some(net::buffer(&one, 1), use_tuple);
    REQUIRE_FALSE(ec2);
    rest.assign(&one, n2);
    loop.client->next_layer().close();
    loop.server->next_layer().close();
  }());
  CHECK(first == "a");
  CHECK(rest == "b");
}

TEST_CASE("TLS socket stream: a record behind the one read counts as unread input") {
  Loopback loop;
  std::string first, second;
  bool held_after_first = false, held_after_second = true;
  loop.run([&]() -> net::awaitable<void> {
    co_await loop.connect();
    co_await loop.client_writes("first");  // two records, both in the socket before any read
    co_await loop.client_writes("second");
    char chunk[64];
    auto [ec, n] = co_await loop.server->async_read_some(net::buffer(chunk), use_tuple);
    REQUIRE_FALSE(ec);
    first.assign(chunk, n);
    held_after_first = proxy::has_unread_input(*loop.server);
    auto [ec2, n2] = co_await loop.server->async_read_some(net::buffer(chunk), use_tuple);
    REQUIRE_FALSE(ec2);
    second.assign(chunk, n2);
    held_after_second = proxy::has_unread_input(*loop.server);
    loop.client->next_layer().close();
    loop.server->next_layer().close();
  }());
  CHECK(first == "first");
  CHECK(held_after_first);
  CHECK(second == "second");
  CHECK_FALSE(held_after_second);
}

TEST_CASE("TLS socket stream: a wait ends with an error when the client closes") {
  Loopback loop;
  std::optional<error_code> waited;
  loop.run([&]() -> net::awaitable<void> {
    co_await loop.connect();
    loop.client->next_layer().close();
    auto [ec] = co_await loop.server->async_wait_input(use_tuple);
    waited = ec;
    loop.server->next_layer().close();
  }());
  REQUIRE(waited);
  // eof, or a reset: the client closed with the server's TLS 1.3 session tickets unread.
  CHECK((*waited == net::error::eof || *waited == net::error::connection_reset));
}

TEST_CASE("buffer pool: storage moves between idle buffers and busy ones, bounded") {
  proxy::BufferPool pool(2);
  proxy::beast::flat_buffer idle(64 * 1024);
  idle.prepare(16 * 1024);
  const auto storage = idle.capacity();
  REQUIRE(storage >= 16 * 1024);

  SECTION("a buffer that holds bytes keeps them and its storage") {
    idle.commit(3);
    pool.release(idle);
    CHECK(idle.size() == 3);
    CHECK(idle.capacity() == storage);
    CHECK(pool.spare() == 0);
  }
  SECTION("an empty buffer gives its storage and keeps its bound; the next one takes it") {
    pool.release(idle);
    CHECK(idle.capacity() == 0);
    CHECK(idle.max_size() == 64 * 1024);
    CHECK(pool.spare() == 1);
    proxy::beast::flat_buffer busy(8 * 1024);
    pool.lend(busy);
    CHECK(busy.capacity() == storage);
    CHECK(busy.size() == 0);
    CHECK(busy.max_size() == 8 * 1024);
    CHECK(pool.spare() == 0);
  }
  SECTION("beyond the bound, storage is freed") {
    proxy::beast::flat_buffer more[3];
    for (auto& buffer : more) {
      buffer.prepare(1024);
      pool.release(buffer);
      CHECK(buffer.capacity() == 0);
    }
    CHECK(pool.spare() == 2);
  }
  SECTION("lending to a buffer with storage, or from an empty pool, changes nothing") {
    pool.lend(idle);
    CHECK(idle.capacity() == storage);
    proxy::beast::flat_buffer fresh;
    pool.lend(fresh);
    CHECK(fresh.capacity() == 0);
  }
}
