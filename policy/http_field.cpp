#include "policy/http_field.hpp"

#include "policy/app_fields.hpp"
#include "policy/header_rules.hpp"
#include "policy/http_chars.hpp"

namespace trproxy::policy::detail {
namespace {

using chars::is_ows;
using chars::u8;

ScanStatus fail(HeadError& slot, HeadError error) {
  slot = error;
  return ScanStatus::error;
}

// Classify a byte that stopped a scan where CR LF was expected.
HeadError line_end_error(char c) {
  if (c == '\n') return HeadError::bare_lf;
  if (c == '\r') return HeadError::bare_cr;
  return HeadError::control_char;
}

}  // namespace

ScanStatus expect_crlf(std::string_view b, std::size_t pos, HeadError& error) {
  if (pos >= b.size()) return ScanStatus::need_more;
  if (b[pos] != '\r') return fail(error, line_end_error(b[pos]));
  if (pos + 1 >= b.size()) return ScanStatus::need_more;
  if (b[pos + 1] != '\n') return fail(error, HeadError::bare_cr);
  return ScanStatus::complete;
}

bool parse_version(std::string_view b, std::size_t pos, std::uint8_t& minor) {
  if (b.size() < pos + 8 || b.compare(pos, 7, "HTTP/1.") != 0) return false;
  const char m = b[pos + 7];
  if (m != '0' && m != '1') return false;
  minor = static_cast<std::uint8_t>(m - '0');
  return true;
}

ScanStatus scan_field_line(std::string_view b, std::size_t pos, FieldLine& line, HeadError& error) {
  const std::size_t name_begin = pos;
  pos = chars::skip_token_bytes(b, pos);
  if (pos >= b.size()) return ScanStatus::need_more;
  if (b[pos] != ':') {
    if (pos == name_begin && is_ows(b[pos])) return fail(error, HeadError::obs_fold);
    if (pos > name_begin && is_ows(b[pos])) return fail(error, HeadError::space_before_colon);
    if (b[pos] == '\n') return fail(error, HeadError::bare_lf);
    if (b[pos] == '\r') {
      if (pos + 1 >= b.size()) return ScanStatus::need_more;
      return fail(error, b[pos + 1] == '\n' ? HeadError::bad_field_name : HeadError::bare_cr);
    }
    if (u8(b[pos]) < 0x20 || b[pos] == 0x7f) return fail(error, HeadError::control_char);
    return fail(error, HeadError::bad_field_name);
  }
  if (pos == name_begin) return fail(error, HeadError::bad_field_name);
  line.name = std::string_view(b.data() + name_begin, pos - name_begin);
  ++pos;
  while (pos < b.size() && is_ows(b[pos])) ++pos;
  const std::size_t value_begin = pos;
  pos = chars::skip_value_bytes(b, pos);
  const auto status = expect_crlf(b, pos, error);
  if (status != ScanStatus::complete) return status;
  std::size_t value_end = pos;
  while (value_end > value_begin && is_ows(b[value_end - 1])) --value_end;
  line.value = std::string_view(b.data() + value_begin, value_end - value_begin);
  line.end = pos + 2;
  return ScanStatus::complete;
}

// The switch below matches by length first; keep it in step with the inserted header names.
static_assert(restrict_access_context.size() == 23 && restrict_access_to_tenants.size() == 26 &&
              restrict_tenant_access_policy.size() == 33);

namespace {

// The Entra names in any case, with '_' in place of any '-' too: some servers fold '_' into '-'
// (CGI-style variables), so "Restrict_Access_Context" would reach them as the real header next
// to ours (DESIGN.md "Header field names are not bent").
FieldKind classify_fixed(std::string_view name) {
  const auto iequals = chars::token_iequals;
  const auto names_tenant_header = names_field;
  switch (name.size()) {
    case 4: return iequals(name, "host") ? FieldKind::host : FieldKind::other;
    case 6: return iequals(name, "expect") ? FieldKind::expect : FieldKind::other;
    case 7: return iequals(name, "upgrade") ? FieldKind::upgrade : FieldKind::other;
    case 10: return iequals(name, "connection") ? FieldKind::connection : FieldKind::other;
    case 14: return iequals(name, "content-length") ? FieldKind::content_length : FieldKind::other;
    case 16: return iequals(name, "proxy-connection") ? FieldKind::proxy_hop : FieldKind::other;
    case 17: return iequals(name, "transfer-encoding") ? FieldKind::transfer_encoding : FieldKind::other;
    case 19: return iequals(name, "proxy-authorization") ? FieldKind::proxy_hop : FieldKind::other;
    case 23:
      return names_tenant_header(name, "restrict-access-context") ? FieldKind::tenant_restriction : FieldKind::other;
    case 26:
      return names_tenant_header(name, "restrict-access-to-tenants") ? FieldKind::tenant_restriction : FieldKind::other;
    case 33:
      return names_tenant_header(name, "sec-restrict-tenant-access-policy") ? FieldKind::tenant_restriction
                                                                            : FieldKind::other;
    default: return FieldKind::other;
  }
}

}  // namespace

FieldKind classify_field(std::string_view name, const FieldNames* custom_app_fields) {
  const auto kind = classify_fixed(name);
  if (kind != FieldKind::other) return kind;
  if (builtin_app_fields().contains(name)) return FieldKind::app_field;
  if (custom_app_fields != nullptr && custom_app_fields->contains(name)) return FieldKind::app_field;
  return FieldKind::other;
}

bool has_token(std::string_view list, std::string_view token) {
  return any_token(list, [token](std::string_view item) { return chars::iequals(item, token); });
}

bool nominates_tenant_field(std::string_view connection_list, const FieldNames* custom_app_fields) {
  return any_token(connection_list, [custom_app_fields](std::string_view item) {
    const auto kind = classify_field(item, custom_app_fields);
    return kind == FieldKind::tenant_restriction || kind == FieldKind::app_field;
  });
}

bool FieldSection::record(FieldKind kind, std::string_view value, HeadError& error) {
  switch (kind) {
    case FieldKind::content_length: {
      std::uint64_t n = 0;
      // 19 digits stay below 2^64; more is refused rather than wrapped.
      if (!chars::parse_decimal(value, 19, n)) {
        error = HeadError::bad_content_length;
        return false;
      }
      if (content_length_count++ > 0 && n != content_length) {
        error = HeadError::conflicting_content_length;
        return false;
      }
      content_length = n;
      return true;
    }
    case FieldKind::transfer_encoding:
      ++transfer_encoding_count;
      last_transfer_encoding = value;
      return true;
    case FieldKind::connection:
      connection_close = connection_close || has_token(value, "close");
      connection_keep_alive = connection_keep_alive || has_token(value, "keep-alive");
      return true;
    default: return true;
  }
}

bool FieldSection::keep_alive(std::uint8_t minor_version) const {
  return minor_version == 1 ? !connection_close : (connection_keep_alive && !connection_close);
}

}  // namespace trproxy::policy::detail
