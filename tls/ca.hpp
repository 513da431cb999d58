#pragma once
// The internal CA whose certificate clients trust: created once by `trproxy ca init`,
// loaded and checked at start-up and on reload.

#include "tls/openssl.hpp"

#include <ctime>
#include <filesystem>
#include <string>

namespace trproxy::tls {

// A CA that cannot be used; the message names the file (exit code 2).
class CaError : public TlsError {
 public:
  using TlsError::TlsError;
};

class CertificateAuthority {
 public:
  // Loads PEM files and refuses a certificate that is not a CA, lacks keyCertSign, is outside
  // its validity period, or does not match the key.
  static CertificateAuthority load(const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

  // Writes DIR/ca.crt and DIR/ca.key (EC P-256, key mode 0600, 10 years). Never overwrites:
  // throws CaError naming the file that exists.
  static void create(const std::filesystem::path& dir);

  [[nodiscard]] X509* cert() const { return cert_.get(); }
  [[nodiscard]] EVP_PKEY* key() const { return key_.get(); }
  [[nodiscard]] std::time_t not_after() const { return not_after_; }
  // SHA-256 of the certificate, hex: tells reloads whether the CA changed.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }
  [[nodiscard]] std::string subject() const;

 private:
  CertificateAuthority(X509Ptr cert, PKeyPtr key);
  X509Ptr cert_;
  PKeyPtr key_;
  std::time_t not_after_ = 0;
  std::string fingerprint_;
};

// Helpers shared by CA and leaf minting.
namespace detail {
Asn1IntPtr random_serial();  // 128-bit positive
void add_extension(X509* cert, X509* issuer, int nid, const char* value);
std::time_t asn1_time_to_time_t(const ASN1_TIME* time);
}  // namespace detail

}  // namespace trproxy::tls
