// Differential libFuzzer target: whatever trproxy's RequestScanner accepts as a complete head,
// http-parser (nodejs/http-parser 2.9, the Debian package) must frame the same way: the head
// ends at the same byte, and the message (head plus Content-Length or chunked body, run through
// BodyTracker) ends at the same byte. A disagreement is how a request hides in another's body.
//
// Only inputs trproxy accepts are compared. Where http-parser refuses what trproxy accepts
// (unknown methods, duplicate equal Content-Lengths, its URL grammar, ...), an upstream would
// answer 400 and close: no bytes are framed differently, so that is not a finding. What is:
//  - both accept the head, at different ends;
//  - both end the message, at different bytes;
//  - http-parser ends the message inside bytes trproxy forwarded as body (before waiting for
//    more, or before refusing the rest).
// CONNECT is compared on the head only: trproxy never frames a CONNECT body (it tunnels or
// refuses), and http-parser treats everything after a CONNECT head as another protocol.

#include "policy/body_framing.hpp"
#include "policy/http_head.hpp"

#include <http_parser.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace {

using namespace trproxy::policy;

void require(bool condition) {
  if (!condition) std::abort();
}

// Where http-parser put the boundaries, as offsets one past the byte that completed each.
struct Reference {
  std::size_t at = 0;  // the byte being fed
  std::optional<std::size_t> head_end;
  std::optional<std::size_t> message_end;
  std::optional<std::size_t> error_at;
};

int on_headers_complete(http_parser* parser) {
  auto& ref = *static_cast<Reference*>(parser->data);
  ref.head_end = ref.at + 1;
  return 0;
}

int on_message_complete(http_parser* parser) {
  auto& ref = *static_cast<Reference*>(parser->data);
  ref.message_end = ref.at + 1;
  return 0;
}

// Feeds one byte at a time, so each callback knows exactly which byte completed it, and stops
// at the end of the first message or at the first error.
Reference frame_with_http_parser(std::string_view bytes) {
  Reference ref;
  http_parser_settings settings{};
  settings.on_headers_complete = on_headers_complete;
  settings.on_message_complete = on_message_complete;
  http_parser parser{};
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &ref;
  for (; ref.at < bytes.size() && !ref.message_end; ++ref.at) {
    const auto n = http_parser_execute(&parser, &settings, bytes.data() + ref.at, 1);
    if (parser.http_errno != HPE_OK || n != 1) {
      ref.error_at = ref.at;
      break;
    }
  }
  return ref;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  RequestScanner scanner(ScanLimits{4096, 64});
  RequestHead head;
  if (scanner.scan(bytes, head) != ScanStatus::complete) return 0;

  const auto ref = frame_with_http_parser(bytes);
  // The reference refused before the end of the head: a stricter upstream, not a finding.
  if (!ref.head_end) {
    require(ref.error_at.has_value() && *ref.error_at < head.end);
    return 0;
  }
  require(*ref.head_end == head.end);
  if (head.method_connect) return 0;

  // Where trproxy ends the message, or how far it forwards before waiting or refusing.
  BodyTracker body(head.framing, head.content_length);
  const auto progress = body.feed(bytes.substr(head.end));
  const std::size_t forwarded = head.end + progress.consumed;
  if (progress.status == BodyStatus::done) {
    // The reference may refuse inside the body (it is stricter about some chunk extensions);
    // if it does not, it ends the message exactly here.
    if (ref.error_at && *ref.error_at < forwarded) return 0;
    require(ref.message_end == forwarded);
  } else {
    // trproxy waits for more body, or refuses it, having forwarded `forwarded` bytes. The
    // reference must not have seen the message end inside them: it would read the rest as a
    // new request. (Ending it inside bytes trproxy still holds back is its leniency, e.g. CR
    // plus any byte as a line end: trproxy judges those bytes before any leaves.)
    require(!ref.message_end || *ref.message_end > forwarded);
  }
  return 0;
}
