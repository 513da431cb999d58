#include "tls/ca.hpp"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace trproxy::tls {
namespace {

BioPtr open_for_read(const std::filesystem::path& file, const char* what) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    const int error = errno;  // fopen's, before anything else can change it
    drain_openssl_errors();
    throw CaError(std::string(what) + " " + file.string() + ": cannot read the file (" + std::strerror(error) + ")");
  }
  return bio;
}

}  // namespace

namespace detail {

Asn1IntPtr random_serial() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw_openssl("RAND_bytes");
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x40;  // and full length, so serials never collide in their encoding
  BignumPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) throw_openssl("BN_bin2bn");
  Asn1IntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) throw_openssl("BN_to_ASN1_INTEGER");
  return serial;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throw_openssl(std::string("certificate extension ") + value);
}

std::time_t asn1_time_to_time_t(const ASN1_TIME* time) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return timegm(&tm);
}

X509Ptr read_certificate(const std::filesystem::path& file, const char* what) {
  X509Ptr cert(PEM_read_bio_X509(open_for_read(file, what).get(), nullptr, nullptr, nullptr));
  if (!cert) {
    drain_openssl_errors();
    throw CaError(std::string(what) + " " + file.string() + ": not a PEM certificate");
  }
  return cert;
}

std::string sha256_fingerprint(X509* cert, std::string_view separator) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &size) != 1) throw_openssl("SHA-256 of the certificate");
  return hex(digest, size, separator);
}

}  // namespace detail

namespace {

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "unknown-host";
  return name.data();
}

// Creates a file that must not exist yet, with the given mode (and group), and writes `text`.
// The group is set before any byte is written, and a file whose group cannot be set is removed,
// so a key never exists with other permissions than asked for.
void write_new_file(const std::filesystem::path& file, const std::string& text, mode_t mode,
                    std::optional<gid_t> group = std::nullopt) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0600);
  if (fd < 0) throw CaError(file.string() + ": cannot create (" + std::strerror(errno) + ")");
  if (group && ::fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(file.c_str());
    throw CaError(file.string() + ": cannot give it group " + std::to_string(*group) + " (" + std::strerror(error) +
                  "; only root or a member of that group can)");
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      throw CaError(file.string() + ": write failed");
    }
    written += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, mode);
  ::close(fd);
}

template <typename Write>
std::string to_pem(Write&& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) throw_openssl("PEM encoding");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

CertificateAuthority::CertificateAuthority(X509Ptr cert, PKeyPtr key) : cert_(std::move(cert)), key_(std::move(key)) {
  not_after_ = detail::asn1_time_to_time_t(X509_get0_notAfter(cert_.get()));
  fingerprint_ = detail::sha256_fingerprint(cert_.get());
  name_constraints_ = read_name_constraints(cert_.get());
}

std::string CertificateAuthority::subject() const {
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(cert_.get()), buffer, sizeof buffer);
  return buffer;
}

CertificateAuthority CertificateAuthority::load(const std::filesystem::path& cert_file,
                                                const std::filesystem::path& key_file) {
  const auto cert_name = cert_file.string();
  auto cert = detail::read_certificate(cert_file, "ca.cert");
  PKeyPtr key(PEM_read_bio_PrivateKey(open_for_read(key_file, "ca.key").get(), nullptr, nullptr, nullptr));
  if (!key) {
    drain_openssl_errors();
    throw CaError("ca.key " + key_file.string() + ": not a PEM private key (or it is encrypted)");
  }
  if (X509_check_ca(cert.get()) < 1 || !(X509_get_extension_flags(cert.get()) & EXFLAG_CA)) {
    throw CaError("ca.cert " + cert_name + ": not a CA certificate (basicConstraints CA:TRUE missing)");
  }
  if (!(X509_get_extension_flags(cert.get()) & EXFLAG_KUSAGE) || !(X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN)) {
    throw CaError("ca.cert " + cert_name + ": keyUsage lacks keyCertSign");
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
    throw CaError("ca.cert " + cert_name + ": not yet valid");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    throw CaError("ca.cert " + cert_name + ": expired");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    drain_openssl_errors();
    throw CaError("ca.key " + key_file.string() + ": does not match the certificate " + cert_name);
  }
  try {
    return CertificateAuthority(std::move(cert), std::move(key));
  } catch (const TlsError& error) {  // an undecodable nameConstraints extension
    throw CaError("ca.cert " + cert_name + ": " + error.what());
  }
}

void CertificateAuthority::create(const std::filesystem::path& dir, const CaOptions& options) {
  const auto cert_file = dir / "ca.crt";
  const auto key_file = dir / "ca.key";
  if (options.days < 1 || options.days > max_ca_days) {
    throw CaError("--days " + std::to_string(options.days) + " is out of range 1.." + std::to_string(max_ca_days));
  }
  for (const auto& file : {cert_file, key_file}) {
    if (std::filesystem::exists(file)) throw CaError(file.string() + ": already exists; refusing to overwrite");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);

  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw_openssl("EC P-256 key generation");
  X509Ptr cert(X509_new());
  if (!cert) throw_openssl("X509_new");
  X509_set_version(cert.get(), 2);
  X509_set_serialNumber(cert.get(), detail::random_serial().get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), options.days, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto common_name =
      options.common_name.empty() ? "trproxy internal CA (" + host_name() + ")" : options.common_name;
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("trproxy"), -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 -1, -1, 0) != 1) {
    drain_openssl_errors();
    throw CaError("--cn \"" + common_name + "\" is not a usable common name (UTF-8, at most 64 characters)");
  }
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  detail::add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  detail::add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  detail::add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  detail::add_extension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!options.constraints.empty()) {  // no subtree at all: an unconstrained CA (tests, old setups)
    detail::add_extension(cert.get(), cert.get(), NID_name_constraints, to_openssl_conf(options.constraints).c_str());
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw_openssl("signing the CA certificate");

  const auto key_pem =
      to_pem([&](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  const auto cert_pem = to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  write_new_file(key_file, key_pem, options.key_group ? 0640 : 0600, options.key_group);
  write_new_file(cert_file, cert_pem, 0644);
}

}  // namespace trproxy::tls
