#pragma once
// Finds where a message body ends, without decoding it, so the bytes can be forwarded as
// they came (no re-chunking). Chunked bodies are validated strictly on the way: a request
// hidden behind a sloppy chunk line is exactly what would reach Microsoft untagged.

#include "policy/http_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::policy {

enum class BodyError : std::uint8_t {
  none,
  bad_chunk_size,       // not plain hex, a sign, 0x, or over 2^60
  bad_chunk_extension,  // control bytes or bare CR/LF in an extension
  bad_chunk_line_end,   // chunk line or chunk data not followed by CRLF
  bad_trailer,          // malformed trailer field
  trailer_too_large,
};

std::string_view describe(BodyError error);

enum class BodyStatus : std::uint8_t { more, done, error };

struct BodyProgress {
  std::size_t consumed = 0;  // bytes of `data` that belong to this body (forward them as-is)
  BodyStatus status = BodyStatus::more;
};

// Tracks one message body. For until_close it never reports done: the peer's EOF ends it.
class BodyTracker {
 public:
  BodyTracker() = default;
  BodyTracker(BodyFraming framing, std::uint64_t content_length, std::size_t max_trailer_bytes = 8192);

  BodyProgress feed(std::string_view data);
  [[nodiscard]] bool done() const { return state_ == State::done; }
  [[nodiscard]] BodyError error() const { return error_; }

 private:
  enum class State : std::uint8_t {
    length,
    until_close,
    size_first_digit,
    size_digits,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_line,
    done,
    failed,
  };
  BodyProgress fail(BodyError error, std::size_t consumed);

  State state_ = State::done;
  std::uint64_t remaining_ = 0;
  unsigned size_digits_ = 0;
  std::size_t extension_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t max_trailer_bytes_ = 8192;
  BodyError error_ = BodyError::none;
  // A trailer line is validated once whole. Trailers are rare, so this only allocates when
  // one arrives.
  std::string trailer_line_;
};

}  // namespace trproxy::policy
