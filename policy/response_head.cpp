#include "policy/http_chars.hpp"
#include "policy/http_field.hpp"
#include "policy/http_head.hpp"

namespace trproxy::policy {
namespace {

// A response's framing follows its final coding: chunked last means chunked, whatever came
// before it (RFC 9112 6.3).
bool last_coding_is_chunked(std::string_view codings) {
  constexpr std::string_view chunked = "chunked";
  if (codings.size() < chunked.size()) return false;
  const auto before = codings.size() - chunked.size();
  return chars::iequals(codings.substr(before), chunked) &&
         (before == 0 || codings[before - 1] == ',' || chars::is_ows(codings[before - 1]));
}

}  // namespace

ScanStatus ResponseScanner::scan(std::string_view b, bool request_was_head, ResponseHead& head) {
  if (!worth_scanning(b)) return error_ == HeadError::none ? ScanStatus::need_more : ScanStatus::error;

  head = ResponseHead{};
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
  if (b.size() < 13) return unfinished(b, ScanStatus::need_more);
  if (!detail::parse_version(b, 0, head.minor_version) || b[8] != ' ') return fail(HeadError::bad_status_line);
  std::uint64_t status = 0;
  if (!chars::parse_decimal(b.substr(9, 3), 3, status) || status < 100 || (b[12] != ' ' && b[12] != '\r')) {
    return fail(HeadError::bad_status_line);
  }
  head.status = static_cast<std::uint16_t>(status);
  std::size_t pos = chars::skip_value_bytes(b, 12);  // the reason phrase
  if (const auto s = detail::expect_crlf(b, pos, error_); s != ScanStatus::complete) return unfinished(b, s);
  pos += 2;

  // Every field a response scanner acts on is framing or persistence: the section has them all.
  const auto no_own_fields = [](const detail::FieldLine&, detail::FieldKind, std::size_t) { return HeadError::none; };
  detail::FieldSection section;
  if (const auto s = detail::scan_fields(b, pos, limits_, section, error_, no_own_fields); s != ScanStatus::complete) {
    return unfinished(b, s);
  }
  head.end = static_cast<std::uint32_t>(pos);
  head.keep_alive = section.keep_alive(head.minor_version);

  if (section.transfer_encoding_count > 0 && section.content_length_count > 0) {
    return fail(HeadError::content_length_with_transfer_encoding);
  }
  if (request_was_head || status < 200 || status == 204 || status == 304) {
    head.framing = BodyFraming::none;
  } else if (section.transfer_encoding_count > 0) {
    if (section.transfer_encoding_count == 1 && last_coding_is_chunked(section.last_transfer_encoding)) {
      head.framing = BodyFraming::chunked;
    } else {
      head.framing = BodyFraming::until_close;
      head.keep_alive = false;
    }
  } else if (section.content_length_count > 0) {
    head.framing = BodyFraming::content_length;
    head.content_length = section.content_length;
  } else {
    head.framing = BodyFraming::until_close;
    head.keep_alive = false;
  }
  return ScanStatus::complete;
}

}  // namespace trproxy::policy
