#pragma once
// Finds where a message body ends, without decoding it, so the bytes can be forwarded as
// they came (no re-chunking). Chunked bodies are validated strictly on the way: a request
// hidden behind a sloppy chunk line is exactly what would reach Microsoft untagged, and a
// tenant-restriction field in a trailer is a client's copy of the header that the head rewrite
// never sees (servers that merge trailers into the fields would read it).

#include "policy/app_fields.hpp"
#include "policy/http_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace trproxy::policy {

enum class BodyError : std::uint8_t {
  none,
  bad_chunk_size,           // not plain hex, a sign, 0x, or over 2^60
  bad_chunk_extension,      // control bytes or bare CR/LF in an extension
  bad_chunk_line_end,       // chunk line or chunk data not followed by CRLF
  bad_trailer,              // malformed trailer field
  tenant_field_in_trailer,  // a tenant-restriction or app tenant name as a trailer field (fail closed)
  trailer_too_large,        // last: tests/unit/failgrind_test.cpp grinds every error up to here
};

std::string_view describe(BodyError error);

enum class BodyStatus : std::uint8_t { more, done, error };

struct BodyProgress {
  // Bytes at the start of `data` that belong to this body and are validated: forward them as
  // they are. Never a byte of a malformed line, so on error nothing past the fault leaves.
  std::size_t consumed = 0;
  BodyStatus status = BodyStatus::more;
};

// Sees a body's payload (chunk framing removed) as BodyTracker validates it: a side observer,
// it cannot change what is forwarded.
class PayloadObserver {
 public:
  virtual ~PayloadObserver() = default;
  virtual void payload(std::string_view bytes) = 0;
};

// Tracks one message body. For until_close it never reports done: the peer's EOF ends it.
//
// Chunk data streams through as it arrives, but the lines around it (chunk-size line, the CRLF
// after the data, trailer lines) count as consumed only once whole and valid. So with status
// `more`, the bytes after `consumed` may be the start of such a line: present them again, with
// what follows, on the next call (as for a head). A line is at most max_line_bytes, so a caller
// whose buffer holds that many bytes can always make progress.
class BodyTracker {
 public:
  // Longest chunk-size or trailer line, CRLF included. It equals the smallest buffer the proxy
  // reads a body into (limits.max_head_bytes >= 4096), so a held-back line always fits.
  static constexpr std::size_t max_line_bytes = 4096;

  BodyTracker() = default;
  // `custom_app_fields`: the apps.custom names refused as trailers too (must outlive the body).
  static constexpr std::size_t default_max_trailer_bytes = 8192;

  BodyTracker(BodyFraming framing, std::uint64_t content_length,
              std::size_t max_trailer_bytes = default_max_trailer_bytes, const FieldNames* custom_app_fields = nullptr);

  // `observer`, when given, sees every payload byte among the consumed ones, once.
  BodyProgress feed(std::string_view data, PayloadObserver* observer = nullptr);
  [[nodiscard]] bool done() const { return state_ == State::done; }
  [[nodiscard]] BodyError error() const { return error_; }

 private:
  enum class State : std::uint8_t {
    length,
    until_close,
    chunk_size_line,
    chunk_data,
    chunk_data_end,  // the CRLF after chunk data
    trailer_line,
    done,
    failed,
  };
  BodyProgress fail(BodyError error, std::size_t consumed);

  State state_ = State::done;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_bytes_ = 0;  // of the trailer lines validated so far
  std::size_t max_trailer_bytes_ = 8192;
  const FieldNames* custom_app_fields_ = nullptr;
  BodyError error_ = BodyError::none;
};

}  // namespace trproxy::policy
