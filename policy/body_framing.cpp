#include "policy/body_framing.hpp"

#include "policy/http_chars.hpp"
#include "policy/http_field.hpp"

#include <algorithm>
#include <cstring>

namespace trproxy::policy {
namespace {

constexpr unsigned max_chunk_size_digits = 15;  // 2^60: far beyond any real body, no overflow
constexpr std::size_t max_extension_bytes = 4096;

bool is_extension_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u < 0x7f);
}

}  // namespace

std::string_view describe(BodyError error) {
  switch (error) {
    case BodyError::none: return "no error";
    case BodyError::bad_chunk_size: return "chunk size is not plain hexadecimal";
    case BodyError::bad_chunk_extension: return "malformed chunk extension";
    case BodyError::bad_chunk_line_end: return "chunk line not terminated by CRLF";
    case BodyError::bad_trailer: return "malformed chunked trailer";
    case BodyError::trailer_too_large: return "chunked trailer too large";
  }
  return "malformed body";
}

BodyTracker::BodyTracker(BodyFraming framing, std::uint64_t content_length, std::size_t max_trailer_bytes)
    : max_trailer_bytes_(max_trailer_bytes) {
  switch (framing) {
    case BodyFraming::none:
      state_ = State::done;
      break;
    case BodyFraming::content_length:
      remaining_ = content_length;
      state_ = content_length == 0 ? State::done : State::length;
      break;
    case BodyFraming::chunked:
      state_ = State::size_first_digit;
      break;
    case BodyFraming::until_close:
      state_ = State::until_close;
      break;
  }
}

BodyProgress BodyTracker::fail(BodyError error, std::size_t consumed) {
  state_ = State::failed;
  error_ = error;
  return {consumed, BodyStatus::error};
}

BodyProgress BodyTracker::feed(std::string_view data) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    const char c = data[pos];
    switch (state_) {
      case State::done:
        return {pos, BodyStatus::done};
      case State::failed:
        return {pos, BodyStatus::error};
      case State::until_close:
        return {data.size(), BodyStatus::more};
      case State::length: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - pos));
        remaining_ -= take;
        pos += take;
        if (remaining_ == 0) state_ = State::done;
        break;
      }
      case State::size_first_digit:
      case State::size_digits: {
        const int digit = chars::hex_value(c);
        if (digit >= 0) {
          if (++size_digits_ > max_chunk_size_digits) return fail(BodyError::bad_chunk_size, pos);
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          state_ = State::size_digits;
        } else if (state_ == State::size_first_digit) {
          return fail(BodyError::bad_chunk_size, pos);
        } else if (c == ';') {
          state_ = State::extension;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return fail(c == '\n' ? BodyError::bad_chunk_line_end : BodyError::bad_chunk_size, pos);
        }
        ++pos;
        break;
      }
      case State::extension:
        if (c == '\r') {
          state_ = State::size_lf;
        } else if (!is_extension_byte(c) || ++extension_bytes_ > max_extension_bytes) {
          return fail(c == '\n' ? BodyError::bad_chunk_line_end : BodyError::bad_chunk_extension, pos);
        }
        ++pos;
        break;
      case State::size_lf:
        if (c != '\n') return fail(BodyError::bad_chunk_line_end, pos);
        ++pos;
        size_digits_ = 0;
        extension_bytes_ = 0;
        state_ = remaining_ == 0 ? State::trailer_line : State::data;
        break;
      case State::data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - pos));
        remaining_ -= take;
        pos += take;
        if (remaining_ == 0) state_ = State::data_cr;
        break;
      }
      case State::data_cr:
        if (c != '\r') return fail(BodyError::bad_chunk_line_end, pos);
        ++pos;
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return fail(BodyError::bad_chunk_line_end, pos);
        ++pos;
        state_ = State::size_first_digit;
        break;
      case State::trailer_line: {
        const auto* lf = static_cast<const char*>(std::memchr(data.data() + pos, '\n', data.size() - pos));
        const std::size_t stop = lf ? static_cast<std::size_t>(lf - data.data()) + 1 : data.size();
        trailer_bytes_ += stop - pos;
        if (trailer_bytes_ > max_trailer_bytes_) return fail(BodyError::trailer_too_large, pos);
        trailer_line_.append(data.substr(pos, stop - pos));
        pos = stop;
        if (lf == nullptr) break;
        if (trailer_line_ == "\r\n") {
          state_ = State::done;
          trailer_line_.clear();
          trailer_line_.shrink_to_fit();
          return {pos, BodyStatus::done};
        }
        detail::FieldLine field;
        HeadError head_error = HeadError::none;
        if (detail::scan_field_line(trailer_line_, 0, field, head_error) != ScanStatus::complete ||
            field.end != trailer_line_.size()) {
          return fail(BodyError::bad_trailer, pos);
        }
        trailer_line_.clear();
        break;
      }
    }
  }
  if (state_ == State::done) return {pos, BodyStatus::done};
  return {pos, BodyStatus::more};
}

}  // namespace trproxy::policy
