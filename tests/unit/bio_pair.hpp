#pragma once
// A client and a server SSL joined by an in-memory BIO pair, each in its role, for handshakes
// driven by hand in unit tests (no sockets).

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

namespace trproxy::test {

inline void join_over_bio_pair(SSL* client, SSL* server) {
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
}

}  // namespace trproxy::test
