#include "policy/http_chars.hpp"
#include "policy/http_field.hpp"
#include "policy/http_head.hpp"

namespace trproxy::policy {
namespace {

// The offsets of `part`, a view into `b`.
Span span_of(std::string_view b, std::string_view part) {
  return Span{static_cast<std::uint32_t>(part.data() - b.data()), static_cast<std::uint32_t>(part.size())};
}

void set_target_authority(std::string_view b, const Authority& authority, RequestHead& head) {
  head.authority_host = span_of(b, authority.host);
  head.authority_port = authority.port;
  head.authority_ip_literal_v6 = authority.ip_literal_v6;
}

// Sets the request target form and its parts; false when the target is malformed.
bool parse_target(std::string_view b, RequestHead& head) {
  const auto t = head.target.in(b);
  if (head.method_connect) {
    const auto authority = parse_authority(t, 0, true);
    if (!authority) return false;
    head.form = TargetForm::authority;
    set_target_authority(b, *authority, head);
    return true;
  }
  if (t.find('#') != std::string_view::npos) return false;
  if (t.front() == '/') {
    head.form = TargetForm::origin;
    return true;
  }
  if (t == "*") {
    head.form = TargetForm::asterisk;
    return head.method.in(b) == "OPTIONS";
  }
  std::size_t scheme_len = 0;
  if (t.size() > 7 && chars::iequals(t.substr(0, 7), "http://")) {
    scheme_len = 7;
  } else if (t.size() > 8 && chars::iequals(t.substr(0, 8), "https://")) {
    scheme_len = 8;
    head.https_scheme = true;
  } else {
    return false;
  }
  const auto rest = t.substr(scheme_len);
  const auto path_start = rest.find_first_of("/?");
  const auto authority_text = rest.substr(0, path_start);
  const auto authority = parse_authority(authority_text, head.https_scheme ? 443 : 80, false);
  if (!authority) return false;
  head.form = TargetForm::absolute;
  set_target_authority(b, *authority, head);
  if (path_start != std::string_view::npos) head.target_path = span_of(b, rest.substr(path_start));
  return true;
}

LineRole role_of(detail::FieldKind kind) {
  if (kind == detail::FieldKind::proxy_hop) return LineRole::proxy_hop;
  return kind == detail::FieldKind::app_field ? LineRole::app_field : LineRole::tenant_restriction;
}

// The request's own fields. Framing and persistence fields are in the FieldSection already.
struct RequestFields {
  RequestHead& head;
  std::string_view b;
  const FieldNames* custom_app_fields;
  unsigned host_count = 0;

  HeadError operator()(const detail::FieldLine& line, detail::FieldKind kind, std::size_t line_begin) {
    using detail::FieldKind;
    switch (kind) {
      case FieldKind::host:
        ++host_count;
        head.host = span_of(b, line.value);
        break;
      case FieldKind::connection:
        if (detail::nominates_tenant_field(line.value, custom_app_fields))
          return HeadError::connection_nominates_tenant_field;
        head.upgrade = head.upgrade || detail::has_token(line.value, "upgrade");
        break;
      case FieldKind::expect: head.expect_continue = chars::iequals(line.value, "100-continue"); break;
      case FieldKind::proxy_hop:
      case FieldKind::tenant_restriction:
      case FieldKind::app_field:
        if (head.removable_count == max_removable_lines) return HeadError::too_many_removable_fields;
        head.removable[head.removable_count++] =
            LineSpan{static_cast<std::uint32_t>(line_begin), static_cast<std::uint32_t>(line.end), role_of(kind)};
        break;
      default: break;
    }
    return HeadError::none;
  }
};

}  // namespace

ScanStatus RequestScanner::scan(std::string_view b, RequestHead& head) {
  if (!worth_scanning(b)) return error_ == HeadError::none ? ScanStatus::need_more : ScanStatus::error;

  head.clear();
  std::size_t pos = 0;
  // RFC 9112 2.2: tolerate a few empty lines before the request line (left by some clients
  // after a body); they are not forwarded.
  for (int i = 0; i < 4 && pos + 1 < b.size() && b[pos] == '\r' && b[pos + 1] == '\n'; ++i) pos += 2;
  head.begin = static_cast<std::uint32_t>(pos);

  // request-line = method SP request-target SP HTTP-version CRLF
  const std::size_t method_begin = pos;
  pos = chars::skip_token_bytes(b, pos);
  if (pos >= b.size()) return unfinished(b, ScanStatus::need_more);
  if (pos == method_begin || b[pos] != ' ') return fail(HeadError::bad_request_line);
  head.method = span_of(b, b.substr(method_begin, pos - method_begin));
  head.method_head = head.method.in(b) == "HEAD";
  head.method_connect = head.method.in(b) == "CONNECT";
  const std::size_t target_begin = ++pos;
  pos = chars::skip_target_bytes(b, pos);
  if (pos >= b.size()) return unfinished(b, ScanStatus::need_more);
  if (pos == target_begin || b[pos] != ' ') {
    return fail(chars::u8(b[pos]) >= 0x7f ? HeadError::bad_target : HeadError::bad_request_line);
  }
  head.target = span_of(b, b.substr(target_begin, pos - target_begin));
  ++pos;
  if (b.size() < pos + 10) return unfinished(b, ScanStatus::need_more);
  if (!detail::parse_version(b, pos, head.minor_version)) {
    return fail(b.compare(pos, 5, "HTTP/") == 0 ? HeadError::bad_version : HeadError::bad_request_line);
  }
  pos += 8;
  if (pos < b.size() && b[pos] != '\r' && b[pos] != '\n') return fail(HeadError::bad_request_line);
  if (const auto s = detail::expect_crlf(b, pos, error_); s != ScanStatus::complete) return unfinished(b, s);
  pos += 2;
  if (!parse_target(b, head)) return fail(HeadError::bad_target);

  detail::FieldSection section;
  RequestFields fields{head, b, limits_.custom_app_fields};
  if (const auto s = detail::scan_fields(b, pos, limits_, section, error_, fields); s != ScanStatus::complete) {
    return unfinished(b, s);
  }
  head.end = static_cast<std::uint32_t>(pos);
  head.field_count = static_cast<std::uint16_t>(section.field_count);

  // A request body is framed by exactly one "chunked" coding or by Content-Length, never both.
  if (section.transfer_encoding_count > 0) {
    if (section.content_length_count > 0) return fail(HeadError::content_length_with_transfer_encoding);
    if (section.transfer_encoding_count > 1 || !chars::iequals(section.last_transfer_encoding, "chunked") ||
        head.minor_version == 0) {
      return fail(HeadError::bad_transfer_encoding);
    }
    head.framing = BodyFraming::chunked;
  } else if (section.content_length_count > 0) {
    head.framing = BodyFraming::content_length;
    head.content_length = section.content_length;
  }
  if (fields.host_count > 1) return fail(HeadError::multiple_host);
  if (fields.host_count == 0 && head.minor_version == 1) return fail(HeadError::missing_host);
  if (fields.host_count == 1 && !parse_authority(head.host.in(b), 80, false)) return fail(HeadError::bad_host);
  head.keep_alive = section.keep_alive(head.minor_version);
  return ScanStatus::complete;
}

}  // namespace trproxy::policy
