#include "policy/body_framing.hpp"

#include "policy/http_chars.hpp"
#include "policy/http_field.hpp"

#include <algorithm>
#include <cstring>

namespace trproxy::policy {
namespace {

constexpr std::size_t max_chunk_size_digits = 15;  // 2^60: far beyond any real body, no overflow

bool is_extension_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u < 0x7f);
}

// A line at the start of some bytes: whole and valid (done, with its length), not whole yet
// (more), or malformed (error).
struct LineScan {
  BodyStatus status = BodyStatus::more;
  BodyError error = BodyError::none;
  std::size_t length = 0;  // with its CRLF, when done; a malformed trailer line's too
};

LineScan line_error(BodyError error, std::size_t length = 0) {
  return {BodyStatus::error, error, length};
}

// chunk-size [ chunk-ext ] CRLF, checked byte by byte so a fault is found as soon as it
// arrives. `bytes` holds at most max_line_bytes.
LineScan scan_chunk_size_line(std::string_view bytes, std::uint64_t& size) {
  std::size_t i = 0;
  size = 0;
  for (; i < bytes.size() && chars::hex_value(bytes[i]) >= 0; ++i) {
    if (i == max_chunk_size_digits) return line_error(BodyError::bad_chunk_size);
    size = size * 16 + static_cast<std::uint64_t>(chars::hex_value(bytes[i]));
  }
  if (i == bytes.size()) return {};
  if (i == 0) return line_error(BodyError::bad_chunk_size);
  if (bytes[i] == ';') {
    for (++i; i < bytes.size() && bytes[i] != '\r'; ++i) {
      if (!is_extension_byte(bytes[i])) {
        return line_error(bytes[i] == '\n' ? BodyError::bad_chunk_line_end : BodyError::bad_chunk_extension);
      }
    }
    if (i == bytes.size()) return {};
  } else if (bytes[i] != '\r') {
    return line_error(bytes[i] == '\n' ? BodyError::bad_chunk_line_end : BodyError::bad_chunk_size);
  }
  if (i + 1 == bytes.size()) return {};
  if (bytes[i + 1] != '\n') return line_error(BodyError::bad_chunk_line_end);
  return {BodyStatus::done, BodyError::none, i + 2};
}

// One trailer field line or the empty line that ends the trailer section. Like a head, it is
// judged once its LF is there; `bytes` holds at most max_line_bytes.
LineScan scan_trailer_line(std::string_view bytes, const FieldNames* custom_app_fields) {
  const auto* lf = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
  if (lf == nullptr) return {};
  const auto line = bytes.substr(0, static_cast<std::size_t>(lf - bytes.data()) + 1);
  if (line == "\r\n") return {BodyStatus::done, BodyError::none, line.size()};
  detail::FieldLine field;
  HeadError head_error = HeadError::none;
  if (detail::scan_field_line(line, 0, field, head_error) != ScanStatus::complete || field.end != line.size()) {
    return line_error(BodyError::bad_trailer, line.size());
  }
  const auto kind = detail::classify_field(field.name, custom_app_fields);
  if (kind == detail::FieldKind::tenant_restriction || kind == detail::FieldKind::app_field) {
    return line_error(BodyError::tenant_field_in_trailer, line.size());
  }
  return {BodyStatus::done, BodyError::none, line.size()};
}

}  // namespace

std::string_view describe(BodyError error) {
  switch (error) {
    case BodyError::none: return "no error";
    case BodyError::bad_chunk_size: return "chunk size is not plain hexadecimal";
    case BodyError::bad_chunk_extension: return "malformed chunk extension";
    case BodyError::bad_chunk_line_end: return "chunk line not terminated by CRLF";
    case BodyError::bad_trailer: return "malformed chunked trailer";
    case BodyError::tenant_field_in_trailer: return "tenant-restriction field in chunked trailer";
    case BodyError::trailer_too_large: return "chunked trailer too large";
  }
  return "malformed body";
}

BodyTracker::BodyTracker(BodyFraming framing, std::uint64_t content_length, std::size_t max_trailer_bytes,
                         const FieldNames* custom_app_fields)
    : max_trailer_bytes_(max_trailer_bytes), custom_app_fields_(custom_app_fields) {
  switch (framing) {
    case BodyFraming::none: state_ = State::done; break;
    case BodyFraming::content_length:
      remaining_ = content_length;
      state_ = content_length == 0 ? State::done : State::length;
      break;
    case BodyFraming::chunked: state_ = State::chunk_size_line; break;
    case BodyFraming::until_close: state_ = State::until_close; break;
  }
}

BodyProgress BodyTracker::fail(BodyError error, std::size_t consumed) {
  state_ = State::failed;
  error_ = error;
  return {consumed, BodyStatus::error};
}

BodyProgress BodyTracker::feed(std::string_view data, PayloadObserver* observer) {
  std::size_t pos = 0;  // everything before pos is validated
  while (pos < data.size()) {
    // A line never counts past max_line_bytes: one that has not ended by then is too long,
    // whether the bytes after it are here already or not.
    const auto line_bytes = data.substr(pos, max_line_bytes);
    const bool line_cut_short = line_bytes.size() == max_line_bytes;
    switch (state_) {
      case State::done: return {pos, BodyStatus::done};
      case State::failed: return {pos, BodyStatus::error};
      case State::until_close:
        if (observer != nullptr) observer->payload(data.substr(pos));
        return {data.size(), BodyStatus::more};
      case State::length:
      case State::chunk_data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - pos));
        if (observer != nullptr) observer->payload(data.substr(pos, take));
        remaining_ -= take;
        pos += take;
        if (remaining_ == 0) state_ = state_ == State::length ? State::done : State::chunk_data_end;
        break;
      }
      case State::chunk_size_line: {
        const auto line = scan_chunk_size_line(line_bytes, remaining_);
        if (line.status == BodyStatus::error) return fail(line.error, pos);
        if (line.status == BodyStatus::more) {
          // Only an extension can make the line this long (the size has at most 15 digits).
          if (line_cut_short) return fail(BodyError::bad_chunk_extension, pos);
          return {pos, BodyStatus::more};
        }
        pos += line.length;
        state_ = remaining_ == 0 ? State::trailer_line : State::chunk_data;
        break;
      }
      case State::chunk_data_end:
        if (data[pos] != '\r') return fail(BodyError::bad_chunk_line_end, pos);
        if (pos + 1 == data.size()) return {pos, BodyStatus::more};
        if (data[pos + 1] != '\n') return fail(BodyError::bad_chunk_line_end, pos);
        pos += 2;
        state_ = State::chunk_size_line;
        break;
      case State::trailer_line: {
        const auto line = scan_trailer_line(line_bytes, custom_app_fields_);
        const std::size_t seen = line.status == BodyStatus::more ? line_bytes.size() : line.length;
        if (trailer_bytes_ + seen > max_trailer_bytes_ || (line.status == BodyStatus::more && line_cut_short)) {
          return fail(BodyError::trailer_too_large, pos);
        }
        if (line.status == BodyStatus::error) return fail(line.error, pos);
        if (line.status == BodyStatus::more) return {pos, BodyStatus::more};
        pos += line.length;
        trailer_bytes_ += line.length;
        if (line.length == 2) {  // "\r\n" (a field line is at least "X:\r\n"): the message ends here
          state_ = State::done;
          return {pos, BodyStatus::done};
        }
        break;
      }
    }
  }
  if (state_ == State::done) return {pos, BodyStatus::done};
  return {pos, BodyStatus::more};
}

}  // namespace trproxy::policy
