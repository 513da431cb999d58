#pragma once
// Reads the server name (SNI) from the first bytes of a TLS connection, without OpenSSL and
// without consuming anything: the bytes are then replayed to a TLS handshake or a tunnel.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::tls {

enum class HelloStatus : std::uint8_t {
  sni,        // host holds the server name
  no_sni,     // a well-formed ClientHello without a server_name extension
  need_more,  // incomplete; read more (the caller bounds this at max_client_hello_bytes)
  not_tls,    // the first byte is not a TLS handshake record
  malformed,  // framing or lengths do not add up, or the message is over max_client_hello_bytes
};

// The largest ClientHello message read (DESIGN: "read whole ... up to 64 KiB"): post-quantum
// key shares and long ALPN or padding lists make hellos far larger than one 16 KiB record.
inline constexpr std::size_t max_client_hello_bytes = 64 * 1024;
// What that message can take on the wire: its records' 5-byte headers on top (at least 1 byte of
// message per record is all TLS guarantees; 16 KiB per record is what clients send).
inline constexpr std::size_t max_tls_record_payload = 16 * 1024;
inline constexpr std::size_t max_client_hello_wire_bytes =
    max_client_hello_bytes + 4 + 5 * (max_client_hello_bytes / max_tls_record_payload + 2);

struct HelloResult {
  HelloStatus status;
  std::string host;  // server name as sent (not normalised)
};

// Handles TLS 1.0-1.3 record framing, a ClientHello spread over any number of records (up to
// max_client_hello_bytes), GREASE and any number of extensions. A hello inside one record is
// parsed in place; only a multi-record one is gathered (one allocation).
HelloResult peek_client_hello(std::string_view bytes);

const char* to_string(HelloStatus status);

}  // namespace trproxy::tls
