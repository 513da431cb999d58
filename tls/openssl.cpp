#include "tls/openssl.hpp"

#include <openssl/err.h>

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

}  // namespace trproxy::tls
