#pragma once
// Why a client's TLS handshake with trproxy failed, in words an operator can act on: a client
// that does not trust the CA (or pins the real certificate) says so with a TLS alert, and
// OpenSSL reports the alert it received as the reason of its error code.

#include <array>
#include <cstdint>

namespace trproxy::tls {

enum class HandshakeFailure : std::uint8_t {
  unknown_ca,               // alert 48: an OpenSSL client (curl, Python) that does not trust the CA
  bad_certificate,          // alert 42: OpenSSL clients send it for a host-name mismatch
  unsupported_certificate,  // alert 43
  certificate_revoked,      // alert 44
  certificate_expired,      // alert 45: the client's clock, or an expired CA
  certificate_unknown,      // alert 46: Chromium without the CA; OpenSSL for a name-constraint violation
  access_denied,            // alert 49
  handshake_failure,        // alert 40: no acceptable parameters, or a client-side policy
  other_alert,              // any other alert from the client
  not_tls,                  // the client's bytes are not TLS (plain HTTP, another protocol)
  protocol,                 // no common version or cipher, malformed messages
  handshake_timeout,        // the client did not finish in time
  eof,                      // the client closed or reset the connection without an alert
  other,
  count
};

const char* to_string(HandshakeFailure failure);

// Every reason, in enum order: the label values of the metric, all present from start.
std::array<HandshakeFailure, static_cast<std::size_t>(HandshakeFailure::count)> all_handshake_failures();

// How the handshake ended, as the engine saw it.
enum class HandshakeEnd : std::uint8_t { tls_error, timed_out, closed, other };

// `openssl_error` is the OpenSSL error code (ERR_get_error's value, which Asio's SSL error
// category carries) when `end` is tls_error, ignored otherwise.
HandshakeFailure classify_handshake_failure(HandshakeEnd end, unsigned long openssl_error);

}  // namespace trproxy::tls
