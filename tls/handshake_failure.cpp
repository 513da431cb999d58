#include "tls/handshake_failure.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace trproxy::tls {
namespace {

// OpenSSL reports an alert received from the peer as reason SSL_AD_REASON_OFFSET + the alert
// number (SSL_R_TLSV1_ALERT_UNKNOWN_CA is 1048, alert 48).
HandshakeFailure from_alert(int alert) {
  switch (alert) {
    case SSL_AD_UNKNOWN_CA: return HandshakeFailure::unknown_ca;
    case SSL_AD_BAD_CERTIFICATE: return HandshakeFailure::bad_certificate;
    case SSL_AD_UNSUPPORTED_CERTIFICATE: return HandshakeFailure::unsupported_certificate;
    case SSL_AD_CERTIFICATE_REVOKED: return HandshakeFailure::certificate_revoked;
    case SSL_AD_CERTIFICATE_EXPIRED: return HandshakeFailure::certificate_expired;
    case SSL_AD_CERTIFICATE_UNKNOWN: return HandshakeFailure::certificate_unknown;
    case SSL_AD_ACCESS_DENIED: return HandshakeFailure::access_denied;
    case SSL_AD_HANDSHAKE_FAILURE: return HandshakeFailure::handshake_failure;
    default: return HandshakeFailure::other_alert;
  }
}

constexpr int max_alert = 255;

}  // namespace

const char* to_string(HandshakeFailure failure) {
  // In enum order: the metric's label values.
  static constexpr std::array<const char*, static_cast<std::size_t>(HandshakeFailure::count)> names{
      "unknown_ca",
      "bad_certificate",
      "unsupported_certificate",
      "certificate_revoked",
      "certificate_expired",
      "certificate_unknown",
      "access_denied",
      "handshake_failure",
      "other_alert",
      "not_tls",
      "protocol",
      "handshake_timeout",
      "eof",
      "other"};
  const auto index = static_cast<std::size_t>(failure);
  return index < names.size() ? names[index] : "other";
}

std::array<HandshakeFailure, static_cast<std::size_t>(HandshakeFailure::count)> all_handshake_failures() {
  std::array<HandshakeFailure, static_cast<std::size_t>(HandshakeFailure::count)> all{};
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<HandshakeFailure>(i);
  return all;
}

HandshakeFailure classify_handshake_failure(HandshakeEnd end, unsigned long openssl_error) {
  switch (end) {
    case HandshakeEnd::timed_out: return HandshakeFailure::handshake_timeout;
    case HandshakeEnd::closed: return HandshakeFailure::eof;
    case HandshakeEnd::other: return HandshakeFailure::other;
    case HandshakeEnd::tls_error: break;
  }
  if (ERR_GET_LIB(openssl_error) != ERR_LIB_SSL) return HandshakeFailure::other;
  const int reason = ERR_GET_REASON(openssl_error);
  if (reason > SSL_AD_REASON_OFFSET && reason <= SSL_AD_REASON_OFFSET + max_alert) {
    return from_alert(reason - SSL_AD_REASON_OFFSET);
  }
  switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH: return HandshakeFailure::not_tls;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING: return HandshakeFailure::eof;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_BAD_EXTENSION:
    case SSL_R_LENGTH_MISMATCH:
    case SSL_R_BAD_PACKET_LENGTH:
    case SSL_R_INAPPROPRIATE_FALLBACK: return HandshakeFailure::protocol;
    default: return HandshakeFailure::other;
  }
}

}  // namespace trproxy::tls
