#pragma once
// What `trproxy ca show FILE` prints about a CA certificate: one "key: value" line each, so
// scripts and people can check a certificate before distributing it.

#include <filesystem>
#include <string>

namespace trproxy::tls {

// subject, sha256_fingerprint (colon hex, as `openssl x509 -fingerprint -sha256` prints it),
// not_after (RFC 3339), key_type, name_constraints (critical | not critical | none), permitted,
// excluded. Throws CaError naming the file when it is missing or not a PEM certificate.
std::string describe_ca_certificate(const std::filesystem::path& file);

}  // namespace trproxy::tls
