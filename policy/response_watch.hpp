#pragma once
// Watching a sign-in host's response, never changing it (DESIGN.md, "Sign-in outcomes"): the
// Restrict-Access-Confirm field, and the block codes in the first 64 KiB of an HTML or JSON
// body after undoing gzip, deflate or br. The body reaches the watch as a side copy of what
// is forwarded; whatever the watch decides, the client gets the upstream's bytes.

#include "policy/block_codes.hpp"
#include "policy/body_framing.hpp"
#include "policy/host_class.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace trproxy::policy {

enum class BodyText : std::uint8_t { other, html, json };
enum class ContentCoding : std::uint8_t { identity, gzip, deflate, br, other };

struct ResponseFacts {
  bool restrict_access_confirm = false;
  BodyText text = BodyText::other;
  ContentCoding coding = ContentCoding::identity;
};

// What a response head says about its body. `head` is a head ResponseScanner accepted.
ResponseFacts read_response_facts(std::string_view head);

// Decoder memory shared by every watch of a process (zlib and brotli states and windows). A
// decoder that cannot get its memory stops decoding: that response goes unscanned, nothing else.
class DecodeBudget {
 public:
  explicit DecodeBudget(std::size_t bytes) : limit_(bytes) {}
  bool take(std::size_t bytes);
  void give(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  [[nodiscard]] std::size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// The bounds of one watch.
struct WatchLimits {
  std::size_t text_bytes = 64 * 1024;            // decoded bytes searched (DESIGN: the first 64 KiB)
  std::size_t encoded_bytes = 1024 * 1024;       // encoded bytes fed to a decoder before it gives up
  std::size_t decoder_bytes = 17 * 1024 * 1024;  // one decoder's memory (a 16 MiB brotli window)
};

// Finds the first block code in one response body. Feed it the body's payload (chunk framing
// removed: it is a BodyTracker's PayloadObserver), then finish().
class BodyWatch final : public PayloadObserver {
 public:
  BodyWatch(HostClass host_class, ContentCoding coding, DecodeBudget& budget, WatchLimits limits = {});
  ~BodyWatch() override;
  BodyWatch(const BodyWatch&) = delete;
  BodyWatch& operator=(const BodyWatch&) = delete;

  void payload(std::string_view bytes) override;
  void finish();
  [[nodiscard]] std::optional<BlockCode> found() const { return matcher_.found(); }

  // Why scanning stopped before the body's end, if it did.
  enum class Stop : std::uint8_t {
    none,
    found,
    text_limit,
    encoded_limit,
    stream_end,
    decoding_error,
    no_memory,
    undecodable
  };
  [[nodiscard]] Stop stopped() const { return stopped_; }

  struct Decoder;

 private:
  void text(std::string_view decoded);
  void stop(Stop why) {
    if (stopped_ == Stop::none) stopped_ = why;
  }

  BlockCodeMatcher matcher_;
  WatchLimits limits_;
  std::unique_ptr<Decoder> decoder_;  // null for identity
  std::size_t text_seen_ = 0;
  std::size_t encoded_seen_ = 0;
  Stop stopped_ = Stop::none;
};

std::string_view to_string(BodyWatch::Stop stop);

// One response from a sign-in host, watched: the exchange hands it the final head, the body's
// payload (body()) and the body's end.
class ResponseWatch {
 public:
  // `search_body` false: the head is read, the body is not searched (an app whose vendor
  // documents no block text).
  ResponseWatch(HostClass host_class, DecodeBudget& budget, bool search_body = true)
      : host_class_(host_class), budget_(budget), search_body_(search_body) {}

  // The final response head (a 1xx is not one). An HTML or JSON body gets a BodyWatch.
  void head(std::string_view head_bytes);
  // Where the body's payload goes; null when the body is not searched.
  [[nodiscard]] PayloadObserver* body() { return body_.get(); }
  // The body ended where its framing said.
  void end() {
    if (body_) body_->finish();
  }

  [[nodiscard]] bool restrict_access_confirm() const { return facts_.restrict_access_confirm; }
  [[nodiscard]] std::optional<BlockCode> outcome() const { return body_ ? body_->found() : std::nullopt; }

 private:
  HostClass host_class_;
  DecodeBudget& budget_;
  bool search_body_;
  ResponseFacts facts_;
  std::unique_ptr<BodyWatch> body_;
};

}  // namespace trproxy::policy
