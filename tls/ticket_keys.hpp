#pragma once
// Session-ticket keys of the client-facing TLS side: a returning client resumes its session
// (one ECDHE, no certificate signature) instead of a full handshake. The first key encrypts new
// tickets; every key decrypts, so a ticket survives one rotation. Keys come either from
// `tls.ticket_keys` (a file shared by every replica behind one load balancer, so a client
// resumes on whichever replica it reaches) or are generated in memory and rotated by the
// process.

#include "tls/openssl.hpp"

#include <array>
#include <atomic>
#include <filesystem>
#include <memory>
#include <vector>

namespace trproxy::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> hmac_key{};
  std::array<unsigned char, 32> aes_key{};
};

// The ticket key file: one key per line, each the base64 of 80 random bytes (name, HMAC key,
// AES key: the layout of nginx's ssl_session_ticket_key), made with
// `openssl rand 80 | base64 -w0`. Empty lines and lines starting with '#' are skipped.
// Throws TlsError naming the file and line (1-based) of the first key that is not 80 bytes.
std::vector<TicketKey> load_ticket_keys(const std::filesystem::path& file);

TicketKey generate_ticket_key();

// The keys in use, swapped atomically: handshakes on every worker read them without a lock.
class TicketKeys {
 public:
  // Keeps the generated keys of this process: the newest encrypts, at most `generated_kept`
  // decrypt.
  static constexpr std::size_t generated_kept = 3;

  TicketKeys();  // one generated key

  // Uses keys from a file as they are (the first encrypts). An empty list is refused.
  void install(std::vector<TicketKey> keys);
  // Back to generated keys (a reload removed tls.ticket_keys).
  void use_generated();
  // With generated keys: a new key encrypts from now on, the oldest beyond `generated_kept`
  // goes. With keys from a file: nothing (the operator rotates the file).
  void rotate();

  [[nodiscard]] std::shared_ptr<const std::vector<TicketKey>> keys() const { return keys_.load(); }
  [[nodiscard]] bool from_file() const { return from_file_.load(); }

 private:
  std::atomic<std::shared_ptr<const std::vector<TicketKey>>> keys_;
  std::atomic<bool> from_file_{false};
};

// Installs `keys` as the ticket key callback of a server SSL_CTX (SSL_CTX_set_tlsext_ticket_key_evp_cb).
// `keys` must outlive the context.
void use_ticket_keys(SSL_CTX* ctx, const TicketKeys& keys);

}  // namespace trproxy::tls
