// libFuzzer target for the ClientHello peek: never crashes, never reads past its input, and a
// server name it reports is non-empty.

#include "tls/client_hello.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto result = trproxy::tls::peek_client_hello(bytes);
  if (result.status == trproxy::tls::HelloStatus::sni && result.host.empty()) std::abort();
  if (result.status != trproxy::tls::HelloStatus::sni && !result.host.empty()) std::abort();
  return 0;
}
