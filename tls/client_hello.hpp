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
  malformed,  // framing or lengths do not add up
};

inline constexpr std::size_t max_client_hello_bytes = 16 * 1024;

struct HelloResult {
  HelloStatus status;
  std::string host;  // server name as sent (not normalised)
};

// Handles TLS 1.0-1.3 record framing, a ClientHello spread over several records, GREASE and
// any number of extensions.
HelloResult peek_client_hello(std::string_view bytes);

const char* to_string(HelloStatus status);

}  // namespace trproxy::tls
