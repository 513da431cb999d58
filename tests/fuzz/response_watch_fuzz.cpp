// libFuzzer target for the sign-in response watch: however a body is split into pieces, the
// block code found (if any) is the one found when the body is fed whole, for text and for
// gzip/deflate/br streams of any content (the decoders see arbitrary, often broken, input), and
// every decoder gives its memory back.
//
// Input: one byte for host class and coding, piece sizes, then the body.

#include "policy/response_watch.hpp"

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

std::optional<BlockCode> watch(HostClass host_class, ContentCoding coding, const std::string& body,
                               const std::vector<std::size_t>& pieces, DecodeBudget& budget) {
  WatchLimits limits;
  limits.text_bytes = 4096;  // small, so the limit itself is exercised
  limits.encoded_bytes = 8192;
  limits.decoder_bytes = 4 * 1024 * 1024;
  BodyWatch w(host_class, coding, budget, limits);
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < body.size(); ++i) {
    const auto n = pieces.empty() ? body.size() : pieces[i % pieces.size()];
    w.payload(std::string_view(body).substr(pos, n));
    pos += n;
  }
  w.finish();
  return w.found();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const auto host_class = input.ConsumeBool() ? HostClass::auth : HostClass::msa;
  const auto coding = static_cast<ContentCoding>(input.ConsumeIntegralInRange<int>(0, 4));
  std::vector<std::size_t> pieces(input.ConsumeIntegralInRange<std::size_t>(1, 8));
  for (auto& piece : pieces) piece = input.ConsumeIntegralInRange<std::size_t>(1, 300);
  const std::string body = input.ConsumeRemainingBytesAsString();

  DecodeBudget budget(64 * 1024 * 1024);
  const auto whole = watch(host_class, coding, body, {}, budget);
  const auto split = watch(host_class, coding, body, pieces, budget);
  require(whole == split);
  require(budget.used() == 0);
  if (coding == ContentCoding::identity && body.size() <= 4096) {
    BlockCodeMatcher matcher(host_class);
    for (const char c : body) matcher.feed(std::string_view(&c, 1));
    matcher.finish();
    require(matcher.found() == whole);
  }
  return 0;
}
