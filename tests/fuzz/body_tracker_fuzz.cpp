// libFuzzer target for the BodyTracker alone. However the body is split into pieces (fed the
// way the proxy's pump does: consumed bytes leave, the rest is presented again with the next
// piece), the total consumed, the final status and the error are those of feeding it whole;
// and consumed never exceeds what was presented.
//
// Input: one byte of framing choice, then piece sizes and a Content-Length, then the body.

#include "policy/body_framing.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace trproxy::policy;

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const bool chunked = input.ConsumeBool();
  const auto content_length = input.ConsumeIntegralInRange<std::uint64_t>(0, 4096);
  const auto max_trailer_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 9000);
  std::vector<std::size_t> pieces(input.ConsumeIntegralInRange<std::size_t>(1, 16));
  for (auto& piece : pieces) piece = input.ConsumeIntegralInRange<std::size_t>(1, 64);
  const std::string body = input.ConsumeRemainingBytesAsString();
  const auto framing = chunked ? BodyFraming::chunked : BodyFraming::content_length;

  BodyTracker whole(framing, content_length, max_trailer_bytes);
  const auto once = whole.feed(body);
  require(once.consumed <= body.size());
  require((once.status == BodyStatus::error) == (whole.error() != BodyError::none));
  require((once.status == BodyStatus::done) == whole.done());
  if (!chunked) require(once.consumed == std::min<std::uint64_t>(content_length, body.size()));

  BodyTracker split(framing, content_length, max_trailer_bytes);
  std::string buffer;
  std::size_t consumed = 0;
  BodyProgress last{};
  std::size_t next_piece = 0;
  for (std::size_t at = 0; at < body.size();) {
    // The pieces cycle; after them the rest comes in one piece.
    const std::size_t n = next_piece < 4 * pieces.size() ? pieces[next_piece++ % pieces.size()] : body.size() - at;
    const auto piece = body.substr(at, n);
    at += piece.size();
    buffer += piece;
    last = split.feed(buffer);
    require(last.consumed <= buffer.size());
    consumed += last.consumed;
    buffer.erase(0, last.consumed);
    if (last.status != BodyStatus::more) break;
  }
  if (body.empty()) last = split.feed(body);
  require(last.status == once.status);
  require(consumed == once.consumed);
  require(split.error() == whole.error());
  return 0;
}
