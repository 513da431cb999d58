#include "tls/openssl.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

namespace trproxy::tls {

std::string drain_openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out;
}

void throw_openssl(const std::string& what) {
  const auto detail = drain_openssl_errors();
  throw TlsError(detail.empty() ? what : what + ": " + detail);
}

std::string hex(const unsigned char* bytes, std::size_t size, std::string_view separator) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    if (i > 0) out += separator;
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) throw_openssl("SHA-256");
  return hex(digest, size);
}

}  // namespace trproxy::tls
