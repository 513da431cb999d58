// Session tickets of the client-facing side: the key file, rotation, and real OpenSSL clients
// resuming (or not) on a ServerTls that shares (or does not share) the keys, over memory BIOs.

#include "tls/ticket_keys.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "bio_pair.hpp"
#include "tls/ca.hpp"
#include "tls/contexts.hpp"
#include "tls/leaf.hpp"

using namespace trproxy;

namespace {

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("trproxy-tk-" + name + "-" + std::to_string(::getpid()));
  std::ofstream(path) << text;
  return path;
}

// base64 of 80 bytes 0x00, 0x01, ... 0x4f
const std::string key_line =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk8=";

tls::CertificateAuthority make_ca() {
  const auto dir = std::filesystem::temp_directory_path() / ("trproxy-tk-ca-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  tls::CertificateAuthority::create(dir, tls::CaOptions{});
  auto ca = tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key");
  std::filesystem::remove_all(dir);
  return ca;
}

using SessionPtr = tls::SessionPtr;

// One TLS 1.3 handshake of an OpenSSL client against `server_tls` (offering `session`), then the
// client reads the tickets the server sent. Returns whether it resumed and the session to keep.
std::pair<bool, SessionPtr> connect(const tls::ServerTls& server_tls, const tls::CertificateAuthority& ca,
                                    SSL_SESSION* session) {
  const auto leaf = tls::mint_leaf(ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "login.microsoftonline.com", std::time(nullptr));
  const auto server = server_tls.new_session(*leaf, ca.cert());
  tls::SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  const tls::SslPtr client(SSL_new(client_ctx.get()));
  SSL_set_tlsext_host_name(client.get(), "login.microsoftonline.com");
  if (session != nullptr) SSL_set_session(client.get(), session);
  test::join_over_bio_pair(client.get(), server.get());
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
    if (!client_done) client_done = SSL_do_handshake(client.get()) == 1;
    if (!server_done) server_done = SSL_do_handshake(server.get()) == 1;
  }
  REQUIRE(client_done);
  REQUIRE(server_done);
  char byte = 0;
  SSL_read(client.get(), &byte, 1);  // takes in the NewSessionTicket messages (then would block)
  // Freed without a close_notify, a connection's session is marked not resumable: keep a copy,
  // and close quietly so the session offered stays good too.
  SessionPtr session_copy(SSL_SESSION_dup(SSL_get0_session(client.get())));
  SSL_set_shutdown(client.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  return {SSL_session_reused(client.get()) == 1, std::move(session_copy)};
}

}  // namespace

TEST_CASE("ticket keys: a key file holds base64 lines of 80 bytes, comments and blank lines skipped") {
  const auto good = temp_file("good", "# rotated 2026-11-23\n\n" + key_line + "\n  " + key_line + "\r\n");
  const auto keys = tls::load_ticket_keys(good);
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].name[0] == 0x00);
  CHECK(keys[0].name[15] == 0x0f);
  CHECK(keys[0].hmac_key[0] == 0x10);
  CHECK(keys[0].aes_key[0] == 0x30);
  CHECK(keys[0].aes_key[31] == 0x4f);
  std::filesystem::remove(good);
}

TEST_CASE("ticket keys: a bad key file names the file, the line and the key") {
  const auto short_key = temp_file("short", "# one\n" + key_line.substr(0, 64) + "\n");
  CHECK_THROWS_WITH(tls::load_ticket_keys(short_key), Catch::Contains(short_key.string() + ":2") &&
                                                          Catch::Contains("tls.ticket_keys") &&
                                                          Catch::Contains("80 random bytes"));
  const auto not_base64 = temp_file("junk", key_line.substr(0, 100) + "!!!!!!!!\n");
  CHECK_THROWS_WITH(tls::load_ticket_keys(not_base64), Catch::Contains(":1: tls.ticket_keys"));
  const auto empty = temp_file("empty", "# nothing yet\n");
  CHECK_THROWS_WITH(tls::load_ticket_keys(empty), Catch::Contains("holds no key"));
  CHECK_THROWS_WITH(tls::load_ticket_keys("/nonexistent/ticket.keys"), Catch::Contains("cannot read"));
  for (const auto& path : {short_key, not_base64, empty}) std::filesystem::remove(path);
}

TEST_CASE("ticket keys: generated keys rotate, the newest seals, the last three open") {
  tls::TicketKeys keys;
  const auto first = keys.keys()->front().name;
  keys.rotate();
  REQUIRE(keys.keys()->size() == 2);
  CHECK(keys.keys()->at(1).name == first);
  keys.rotate();
  keys.rotate();
  REQUIRE(keys.keys()->size() == tls::TicketKeys::generated_kept);
  CHECK(keys.keys()->back().name != first);  // the oldest went
  keys.install({tls::generate_ticket_key()});
  CHECK(keys.from_file());
  const auto installed = keys.keys()->front().name;
  keys.rotate();  // the operator rotates a key file, not the process
  CHECK(keys.keys()->size() == 1);
  CHECK(keys.keys()->front().name == installed);
}

TEST_CASE("ticket keys: a client resumes on a server sharing the keys, and only there") {
  const auto ca = make_ca();
  const auto shared = std::vector<tls::TicketKey>{tls::generate_ticket_key()};
  const tls::ServerTls a, b, alone;
  a.ticket_keys().install(shared);
  b.ticket_keys().install(shared);
  auto [resumed_first, session] = connect(a, ca, nullptr);
  CHECK_FALSE(resumed_first);
  REQUIRE(session);
  CHECK(connect(a, ca, session.get()).first);
  CHECK(connect(b, ca, session.get()).first);            // another replica with the same key file
  CHECK_FALSE(connect(alone, ca, session.get()).first);  // its own generated keys: full handshake

  // After one rotation of generated keys a ticket still opens; after three it does not.
  auto [unused, generated] = connect(alone, ca, nullptr);
  alone.ticket_keys().rotate();
  CHECK(connect(alone, ca, generated.get()).first);
  alone.ticket_keys().rotate();
  alone.ticket_keys().rotate();
  CHECK_FALSE(connect(alone, ca, generated.get()).first);
}
