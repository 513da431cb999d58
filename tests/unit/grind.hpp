#pragma once
// Feeding helpers for the grind tests: a message delivered in two pieces at every offset and
// then byte by byte, the way a socket may deliver it (Beast's parsegrind/failgrind idea).

#include "policy/body_framing.hpp"
#include "policy/http_head.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::test {

// What a body tracker said over a whole delivery.
struct Delivered {
  policy::BodyProgress last;
  std::size_t consumed = 0;  // the total forwarded
  bool ended_early = false;  // done or error before every byte was presented
};

// How the bytes after the first piece arrive.
enum class Then { byte_by_byte, in_one_piece };

// Feeds `body` the way the proxy's pump does: bytes arrive in pieces (one piece up to `split`,
// then the rest as `then` says), the consumed ones leave, the rest is presented again with the
// next piece.
inline Delivered feed_like_a_pump(policy::BodyTracker& tracker, const std::string& body, std::size_t split,
                                  Then then = Then::byte_by_byte) {
  Delivered out;
  std::string buffer;
  for (std::size_t i = 0; i < body.size();) {
    const std::size_t n = i < split ? split - i : (then == Then::byte_by_byte ? 1 : body.size() - i);
    buffer.append(body, i, n);
    i += n;
    out.last = tracker.feed(buffer);
    out.consumed += out.last.consumed;
    buffer.erase(0, out.last.consumed);
    if (out.last.status != policy::BodyStatus::more) {
      out.ended_early = i < body.size();
      break;
    }
  }
  return out;
}

// Presents a growing buffer to `scan` (a callable taking the bytes so far): the first piece up
// to `split`, then the rest as `then` says, stopping at the first status other than need_more.
// Returns every status reported, in order.
template <class Scan>
std::vector<policy::ScanStatus> grind_head(const std::string& text, std::size_t split, Then then, Scan&& scan) {
  std::vector<policy::ScanStatus> statuses;
  const std::string_view all(text);
  std::size_t have = std::min(split, text.size());
  for (;;) {
    statuses.push_back(scan(all.substr(0, have)));
    if (statuses.back() != policy::ScanStatus::need_more || have == text.size()) return statuses;
    have = then == Then::byte_by_byte ? have + 1 : text.size();
  }
}

}  // namespace trproxy::test
