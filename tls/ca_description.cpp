#include "tls/ca_description.hpp"

#include <openssl/ec.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "config/syntax.hpp"
#include "tls/ca.hpp"
#include "tls/name_constraints.hpp"

namespace trproxy::tls {
namespace {

std::string subject_text(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(size)};
}

std::string key_type(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (!key) return "unknown";
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_EC) {
    char group[64] = "";
    EVP_PKEY_get_group_name(key, group, sizeof group, nullptr);
    const char* nist = EC_curve_nid2nist(OBJ_txt2nid(group));
    return std::string("EC ") + (nist ? nist : group);
  }
  if (id == EVP_PKEY_RSA) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
  const char* name = OBJ_nid2sn(id);
  return name ? name : "unknown";
}

}  // namespace

std::string describe_ca_certificate(const std::filesystem::path& file) {
  const auto cert = detail::read_certificate(file, "certificate");
  auto fingerprint = detail::sha256_fingerprint(cert.get(), ":");
  std::transform(fingerprint.begin(), fingerprint.end(), fingerprint.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::optional<NameConstraints> constraints;
  try {
    constraints = read_name_constraints(cert.get());
  } catch (const TlsError& error) {
    throw CaError("certificate " + file.string() + ": " + error.what());
  }
  std::ostringstream out;
  out << "subject: " << subject_text(cert.get()) << "\n";
  out << "sha256_fingerprint: " << fingerprint << "\n";
  out << "not_after: " << config::rfc3339_utc(detail::asn1_time_to_time_t(X509_get0_notAfter(cert.get()))) << "\n";
  out << "key_type: " << key_type(cert.get()) << "\n";
  out << "name_constraints: " << (!constraints ? "none" : constraints->critical ? "critical" : "not critical") << "\n";
  const NameConstraints none;
  out << "permitted: " << describe_subtrees(constraints.value_or(none), true) << "\n";
  out << "excluded: " << describe_subtrees(constraints.value_or(none), false) << "\n";
  return out.str();
}

}  // namespace trproxy::tls
