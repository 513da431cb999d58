// Why a client's handshake failed: the classifier's table, and real OpenSSL clients that reject
// trproxy's certificate, so the alert each sends is measured rather than assumed.

#include "tls/handshake_failure.hpp"

#include <openssl/err.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "bio_pair.hpp"
#include "test_configs.hpp"
#include "tls/ca.hpp"
#include "tls/contexts.hpp"
#include "tls/leaf.hpp"

using namespace trproxy;
using tls::HandshakeEnd;
using tls::HandshakeFailure;

namespace {

unsigned long ssl_error(int reason) {
  return ERR_PACK(ERR_LIB_SSL, 0, reason);
}

tls::CertificateAuthority make_ca(const std::string& name, const tls::NameConstraints& constraints) {
  const auto dir = std::filesystem::temp_directory_path() / ("trproxy-hs-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  tls::CaOptions options;
  options.constraints = constraints;
  tls::CertificateAuthority::create(dir, options);
  auto ca = tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key");
  std::filesystem::remove_all(dir);
  return ca;
}

struct ClientSide {
  X509* trusted;     // the one root the client trusts
  const char* host;  // the name it expects
};

// Runs a handshake between trproxy's client-facing TLS (presenting a leaf for `leaf_host` from
// `ca`) and an OpenSSL client, over a memory BIO pair. Returns the failure the server sees,
// classified as the engine does, or "completed".
std::string handshake(const tls::CertificateAuthority& ca, const char* leaf_host, const ClientSide& client_side) {
  const tls::ServerTls server_tls;
  const auto leaf = tls::mint_leaf(ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, leaf_host, std::time(nullptr));
  const auto server = server_tls.new_session(*leaf, ca.cert());
  tls::SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), client_side.trusted);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
  const tls::SslPtr client(SSL_new(client_ctx.get()));
  SSL_set_tlsext_host_name(client.get(), client_side.host);
  SSL_set1_host(client.get(), client_side.host);
  test::join_over_bio_pair(client.get(), server.get());
  bool client_done = false;
  for (int round = 0; round < 20; ++round) {
    ERR_clear_error();
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      client_done = r == 1 || SSL_get_error(client.get(), r) == SSL_ERROR_SSL;
    }
    ERR_clear_error();  // the client's own errors share this thread's queue
    const int r = SSL_do_handshake(server.get());
    if (r == 1 && client_done) return "completed";
    if (r <= 0 && SSL_get_error(server.get(), r) == SSL_ERROR_SSL) {
      // Asio hands the engine ERR_get_error(): the first error queued.
      return tls::to_string(tls::classify_handshake_failure(HandshakeEnd::tls_error, ERR_get_error()));
    }
  }
  return "neither completed nor failed";
}

}  // namespace

TEST_CASE("handshake failures are classified by the alert the client sent") {
  struct Case {
    HandshakeEnd end;
    unsigned long error;
    HandshakeFailure expected;
  };
  const Case cases[] = {
      {HandshakeEnd::tls_error, ssl_error(SSL_R_TLSV1_ALERT_UNKNOWN_CA), HandshakeFailure::unknown_ca},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_BAD_CERTIFICATE), HandshakeFailure::bad_certificate},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE),
       HandshakeFailure::unsupported_certificate},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED),
       HandshakeFailure::certificate_revoked},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED),
       HandshakeFailure::certificate_expired},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN),
       HandshakeFailure::certificate_unknown},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_TLSV1_ALERT_ACCESS_DENIED), HandshakeFailure::access_denied},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE), HandshakeFailure::handshake_failure},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION), HandshakeFailure::other_alert},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_TLSV1_ALERT_DECODE_ERROR), HandshakeFailure::other_alert},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_HTTP_REQUEST), HandshakeFailure::not_tls},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_WRONG_VERSION_NUMBER), HandshakeFailure::not_tls},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_NO_SHARED_CIPHER), HandshakeFailure::protocol},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_UNSUPPORTED_PROTOCOL), HandshakeFailure::protocol},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_UNEXPECTED_EOF_WHILE_READING), HandshakeFailure::eof},
      {HandshakeEnd::tls_error, ssl_error(SSL_R_BAD_SIGNATURE), HandshakeFailure::other},
      {HandshakeEnd::tls_error, ERR_PACK(ERR_LIB_EVP, 0, 1), HandshakeFailure::other},  // not an SSL error
      {HandshakeEnd::tls_error, 0, HandshakeFailure::other},
      {HandshakeEnd::timed_out, 0, HandshakeFailure::handshake_timeout},
      {HandshakeEnd::closed, 0, HandshakeFailure::eof},
      {HandshakeEnd::other, ssl_error(SSL_R_TLSV1_ALERT_UNKNOWN_CA), HandshakeFailure::other},
  };
  for (const auto& c : cases) {
    INFO(static_cast<int>(c.end) << " " << ERR_GET_REASON(c.error));
    CHECK(tls::classify_handshake_failure(c.end, c.error) == c.expected);
  }
}

TEST_CASE("every reason has its own metric label") {
  std::set<std::string> labels;
  for (const auto reason : tls::all_handshake_failures()) labels.insert(tls::to_string(reason));
  CHECK(labels.size() == static_cast<std::size_t>(HandshakeFailure::count));
  CHECK(labels.count("unknown_ca") == 1);
  CHECK(labels.count("other") == 1);
}

TEST_CASE("real OpenSSL clients that reject the minted certificate are classified by their alert") {
  const auto constrained = tls::constraints_for(test::load_yaml(test::v2_yaml).tenant_restrictions);
  const auto ca = make_ca("trusted", constrained);
  const auto stranger = make_ca("stranger", {});
  // The client trusts the CA: the handshake completes.
  CHECK(handshake(ca, "login.microsoftonline.com", {ca.cert(), "login.microsoftonline.com"}) == "completed");
  // The client does not trust the CA (curl and Python without the CA installed).
  CHECK(handshake(ca, "login.microsoftonline.com", {stranger.cert(), "login.microsoftonline.com"}) == "unknown_ca");
  // A leaf for another host from the constrained CA: OpenSSL 3.0 has no alert of its own for a
  // name-constraint violation and sends certificate_unknown (measured).
  CHECK(handshake(ca, "www.example.com", {ca.cert(), "www.example.com"}) == "certificate_unknown");
  // A leaf whose name is not the one the client asked for: bad_certificate (measured).
  CHECK(handshake(ca, "login.live.com", {ca.cert(), "login.microsoftonline.com"}) == "bad_certificate");
}
