// libFuzzer target for the ResponseScanner alone. Invariants on every input:
//  1. it never reads past its input (ASan: libFuzzer's buffer is exactly `size` bytes);
//  2. a complete head ends inside the input, and a framing it reports is self-consistent;
//  3. the result depends only on the bytes of the head: scanning the input followed by more
//     bytes gives the same status, head and error; so does the input delivered in two pieces,
//     except that a scanner fed a growing buffer may defer an error until a line end, the size
//     limit or a NUL arrives (it rescans only when the head could be complete).
// The first byte chooses whether the request was HEAD; the rest is the response.

#include "policy/http_head.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace trproxy::policy;

constexpr ScanLimits limits{4096, 64};

void require(bool condition) {
  if (!condition) std::abort();
}

bool same(const ResponseHead& a, const ResponseHead& b) {
  return a.end == b.end && a.status == b.status && a.minor_version == b.minor_version && a.framing == b.framing &&
         a.content_length == b.content_length && a.keep_alive == b.keep_alive;
}

struct Result {
  ScanStatus status;
  HeadError error;
  ResponseHead head;
};

Result scan_whole(std::string_view bytes, bool request_was_head) {
  ResponseScanner scanner(limits);
  Result out{};
  out.status = scanner.scan(bytes, request_was_head, out.head);
  out.error = scanner.error();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool request_was_head = (data[0] & 1) != 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const auto whole = scan_whole(bytes, request_was_head);
  require((whole.status == ScanStatus::error) == (whole.error != HeadError::none));
  if (whole.status == ScanStatus::complete) {
    const auto& head = whole.head;
    require(head.end <= bytes.size() && head.end >= 16);  // "HTTP/1.1 200\r\n\r\n" at the least
    require(bytes.substr(head.end - 4, 4) == "\r\n\r\n");
    require(head.status >= 100);
    require(head.framing == BodyFraming::content_length || head.content_length == 0);
    require(head.framing != BodyFraming::until_close || !head.keep_alive);
    if (request_was_head || head.status < 200 || head.status == 204 || head.status == 304) {
      require(head.framing == BodyFraming::none);
    }
  }

  // 3a: more bytes after the head (the body, the next response) change nothing.
  if (whole.status != ScanStatus::need_more) {
    std::string extended(bytes);
    extended += "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const auto longer = scan_whole(extended, request_was_head);
    require(longer.status == whole.status && longer.error == whole.error);
    if (whole.status == ScanStatus::complete) require(same(longer.head, whole.head));
  }

  // 3b: delivered in two pieces, split where the first byte says.
  const std::size_t split = bytes.empty() ? 0 : (data[0] >> 1) % bytes.size();
  ResponseScanner scanner(limits);
  ResponseHead head;
  auto status = scanner.scan(bytes.substr(0, split), request_was_head, head);
  require(status != ScanStatus::complete || head.end <= split);
  if (status == ScanStatus::need_more) status = scanner.scan(bytes, request_was_head, head);
  if (status == ScanStatus::need_more) {
    require(whole.status != ScanStatus::complete);  // a deferred error, never a missed head
  } else {
    require(status == whole.status && scanner.error() == whole.error);
    if (status == ScanStatus::complete) require(same(head, whole.head));
  }
  return 0;
}
