#include "tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <string>

namespace trproxy::tls {
namespace {

constexpr std::size_t key_bytes = 80;

int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_mac_key(EVP_MAC_CTX* mac, const TicketKey& key) {
  char digest[] = "sha256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                             OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()), key.hmac_key.size()),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// OpenSSL's ticket callback: 1 = key set (or found), 2 = found but renew the ticket with the
// current key, 0 = unknown key (full handshake), -1 = error.
int on_ticket(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
              int encrypt) {
  const auto* store = static_cast<const TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  if (store == nullptr) return -1;
  const auto keys = store->keys();
  if (!keys || keys->empty()) return -1;
  if (encrypt) {
    const auto& key = keys->front();
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
    return set_mac_key(mac, key) ? 1 : -1;
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const auto& key = (*keys)[i];
    if (std::memcmp(key_name, key.name.data(), key.name.size()) != 0) continue;
    if (!set_mac_key(mac, key)) return -1;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
    return i == 0 ? 1 : 2;
  }
  return 0;
}

TicketKey key_from(const unsigned char* bytes) {
  TicketKey key;
  std::memcpy(key.name.data(), bytes, 16);
  std::memcpy(key.hmac_key.data(), bytes + 16, 32);
  std::memcpy(key.aes_key.data(), bytes + 48, 32);
  return key;
}

}  // namespace

std::vector<TicketKey> load_ticket_keys(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw TlsError("tls.ticket_keys: cannot read \"" + file.string() + "\"");
  std::vector<TicketKey> keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const auto text = line.substr(start);
    // EVP_DecodeBlock pads its count to whole 3-byte groups: 80 bytes decode to 81 with one '='.
    std::vector<unsigned char> decoded(text.size() / 4 * 3 + 3);
    const int n = EVP_DecodeBlock(decoded.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    const auto padding = text.size() >= 2 ? (text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0) : 0;
    if (n < 0 || text.size() % 4 != 0 || static_cast<std::size_t>(n) - padding != key_bytes) {
      throw TlsError(file.string() + ":" + std::to_string(number) +
                     ": tls.ticket_keys: a key must be the base64 of 80 random bytes (openssl rand 80 | base64 -w0)");
    }
    keys.push_back(key_from(decoded.data()));
  }
  if (keys.empty()) throw TlsError("tls.ticket_keys: \"" + file.string() + "\" holds no key");
  return keys;
}

TicketKey generate_ticket_key() {
  unsigned char bytes[key_bytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw_openssl("generating a session ticket key");
  return key_from(bytes);
}

TicketKeys::TicketKeys() {
  use_generated();
}

void TicketKeys::install(std::vector<TicketKey> keys) {
  if (keys.empty()) throw TlsError("tls.ticket_keys: no key");
  keys_.store(std::make_shared<const std::vector<TicketKey>>(std::move(keys)));
  from_file_ = true;
}

void TicketKeys::use_generated() {
  if (from_file_.exchange(false) || !keys_.load()) {
    keys_.store(std::make_shared<const std::vector<TicketKey>>(std::vector<TicketKey>{generate_ticket_key()}));
  }
}

void TicketKeys::rotate() {
  if (from_file_) return;
  std::vector<TicketKey> next{generate_ticket_key()};
  if (const auto current = keys_.load()) {
    for (const auto& key : *current) {
      if (next.size() == generated_kept) break;
      next.push_back(key);
    }
  }
  keys_.store(std::make_shared<const std::vector<TicketKey>>(std::move(next)));
}

void use_ticket_keys(SSL_CTX* ctx, const TicketKeys& keys) {
  SSL_CTX_set_ex_data(ctx, ticket_keys_index(), const_cast<TicketKeys*>(&keys));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &on_ticket);
}

}  // namespace trproxy::tls
