// libFuzzer target for the PROXY protocol header parser. Invariants on every input:
//  1. it never reads past its input (ASan: libFuzzer's buffer is exactly `size` bytes);
//  2. a complete header lies inside the input (v1: ends in CRLF within 107 bytes; v2: 16 bytes
//     plus its length field, within the buffer bound), and an invalid one says why;
//  3. the verdict depends only on the header's bytes: the input followed by more bytes gives the
//     same verdict (need_more aside), and every prefix of a complete header asks for more (a
//     session that reads as bytes come stops at the same place as one that got them at once).
// The first byte picks the buffer bound (small bounds exercise the v2 size refusal).

#include "policy/proxy_protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace trproxy::policy;

void require(bool condition) {
  if (!condition) std::abort();
}

bool same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.status == b.status && a.version == b.version && a.length == b.length && a.client == b.client &&
         a.client_port == b.client_port && a.reason == b.reason;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max_bytes = 16 + static_cast<std::size_t>(data[0]) * 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const auto whole = parse_proxy_header(bytes, max_bytes);
  require((whole.status == ProxyHeaderStatus::invalid) == !whole.reason.empty());
  if (whole.status == ProxyHeaderStatus::complete) {
    require(whole.length > 0 && whole.length <= bytes.size());
    if (whole.version == 1) {
      require(whole.length <= proxy_v1_max_bytes);
      require(bytes.substr(whole.length - 2, 2) == "\r\n");
    } else {
      require(whole.version == 2 && whole.length >= proxy_v2_fixed_bytes && whole.length <= max_bytes);
    }
    if (whole.client && whole.client->is_v4_mapped()) require(whole.version == 1 || whole.length >= 28);
  }

  // 3a: more bytes after a decided header change nothing.
  if (whole.status != ProxyHeaderStatus::need_more) {
    std::string longer(bytes);
    longer += "\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    require(same(parse_proxy_header(longer, max_bytes), whole));
  }
  // 3b: every prefix of a complete header asks for more.
  if (whole.status == ProxyHeaderStatus::complete) {
    for (std::size_t n = 0; n < whole.length; ++n) {
      require(parse_proxy_header(bytes.substr(0, n), max_bytes).status == ProxyHeaderStatus::need_more);
    }
  }
  return 0;
}
