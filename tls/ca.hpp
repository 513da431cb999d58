#pragma once
// The internal CA whose certificate clients trust: created once by `trproxy ca init`,
// loaded and checked at start-up and on reload.

#include "tls/name_constraints.hpp"
#include "tls/openssl.hpp"

#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

namespace trproxy::tls {

// A CA that cannot be used; the message names the file (exit code 2).
class CaError : public TlsError {
 public:
  using TlsError::TlsError;
};

inline constexpr int max_ca_days = 36500;

// What `trproxy ca init` makes.
struct CaOptions {
  int days = 3650;          // validity, 1..max_ca_days
  std::string common_name;  // "" = "trproxy internal CA (<host name>)"
  NameConstraints constraints;
  // The key's group: the key is then 0640 with this group, so a service user in that group
  // (a container's UID/GID, a systemd User=) reads it while others still cannot. nullopt: 0600.
  std::optional<gid_t> key_group;
};

class CertificateAuthority {
 public:
  // Loads PEM files and refuses a certificate that is not a CA, lacks keyCertSign, is outside
  // its validity period, or does not match the key.
  static CertificateAuthority load(const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

  // Writes DIR/ca.crt and DIR/ca.key (EC P-256, key mode 0600, or 0640 with key_group) with the options' validity,
  // name and (critical) name constraints. Never overwrites: throws CaError naming the file
  // that exists.
  static void create(const std::filesystem::path& dir, const CaOptions& options);

  [[nodiscard]] X509* cert() const { return cert_.get(); }
  [[nodiscard]] EVP_PKEY* key() const { return key_.get(); }
  [[nodiscard]] std::time_t not_after() const { return not_after_; }
  // SHA-256 of the certificate, hex: tells reloads whether the CA changed.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }
  [[nodiscard]] std::string subject() const;
  // nullopt when the certificate has no nameConstraints extension.
  [[nodiscard]] const std::optional<NameConstraints>& name_constraints() const { return name_constraints_; }

 private:
  CertificateAuthority(X509Ptr cert, PKeyPtr key);
  X509Ptr cert_;
  PKeyPtr key_;
  std::time_t not_after_ = 0;
  std::string fingerprint_;
  std::optional<NameConstraints> name_constraints_;
};

// Helpers shared by CA and leaf minting.
namespace detail {
Asn1IntPtr random_serial();  // 128-bit positive
void add_extension(X509* cert, X509* issuer, int nid, const char* value);
std::time_t asn1_time_to_time_t(const ASN1_TIME* time);
// The PEM certificate in `file`; CaError naming `what` (the config key) and the file otherwise.
X509Ptr read_certificate(const std::filesystem::path& file, const char* what);
// SHA-256 of the certificate's DER encoding, lower-case hex, bytes joined by `separator`
// (none, or ':' for the colon form people compare by eye).
std::string sha256_fingerprint(X509* cert, std::string_view separator = "");
}  // namespace detail

}  // namespace trproxy::tls
