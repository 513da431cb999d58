#pragma once
// Line syntax shared by the head scanners and the chunked-trailer check: CR LF line ends, the
// HTTP version, one field line, which fields the proxy acts on, and the one loop over a field
// section that request and response heads both run. Internal to policy/.

#include "policy/app_fields.hpp"
#include "policy/http_chars.hpp"
#include "policy/http_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace trproxy::policy::detail {

// Expects CR LF at pos. need_more when the buffer ends first; a bare CR, a bare LF or another
// byte in its place is an error.
ScanStatus expect_crlf(std::string_view b, std::size_t pos, HeadError& error);

// "HTTP/1.0" or "HTTP/1.1" at pos.
bool parse_version(std::string_view b, std::size_t pos, std::uint8_t& minor);

// One field line starting at `pos` (validated, CRLF-terminated).
struct FieldLine {
  std::string_view name;
  std::string_view value;  // OWS trimmed
  std::size_t end = 0;     // one past LF
};
// Returns need_more when the line is incomplete, error with `error` set when it is malformed.
ScanStatus scan_field_line(std::string_view buffer, std::size_t pos, FieldLine& line, HeadError& error);

// The fields a scanner acts on; everything else passes through unread.
enum class FieldKind : std::uint8_t {
  other,
  host,
  content_length,
  transfer_encoding,
  connection,
  expect,
  upgrade,
  proxy_hop,
  tenant_restriction,
  app_field,  // a SaaS app's tenant header (built in, or `custom_app_fields`)
};
FieldKind classify_field(std::string_view name, const FieldNames* custom_app_fields = nullptr);

// True when `matches` holds for an item of the comma-separated list (OWS trimmed).
template <class Predicate>
bool any_token(std::string_view list, Predicate matches) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    auto item = list.substr(pos, comma - pos);
    while (!item.empty() && chars::is_ows(item.front())) item.remove_prefix(1);
    while (!item.empty() && chars::is_ows(item.back())) item.remove_suffix(1);
    if (matches(item)) return true;
    pos = comma + 1;
  }
  return false;
}

// True when the comma-separated list holds `token` (ASCII case-insensitive, OWS trimmed).
bool has_token(std::string_view list, std::string_view token);

// True when a Connection list nominates a tenant-restriction or app field (any spelling
// classify_field knows): every hop after the proxy would delete the header it inserted (RFC 9110
// 7.6.1).
bool nominates_tenant_field(std::string_view connection_list, const FieldNames* custom_app_fields = nullptr);

// What a field section says about framing and persistence, gathered the same way for requests
// and responses; each scanner then applies its own rules to it.
struct FieldSection {
  std::size_t field_count = 0;
  unsigned content_length_count = 0;
  std::uint64_t content_length = 0;  // all Content-Length fields agree (else an error)
  unsigned transfer_encoding_count = 0;
  std::string_view last_transfer_encoding;  // a view into the scanned buffer
  bool connection_close = false;
  bool connection_keep_alive = false;

  // Records one field of these kinds; false with `error` set when it makes the head invalid.
  bool record(FieldKind kind, std::string_view value, HeadError& error);
  // HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive" (RFC 9112 9.3).
  [[nodiscard]] bool keep_alive(std::uint8_t minor_version) const;
};

// Scans field lines from `pos` through the empty line that closes the section and leaves `pos`
// one past it. Every field the proxy acts on (kind other than `other`) goes into `section`,
// then to `visit(line, kind, line_begin)`, which returns HeadError::none to go on. need_more
// when the buffer ends first; error with `error` set on a malformed line, a refused field or
// more than `limits.max_fields` fields.
template <class Visitor>
ScanStatus scan_fields(std::string_view b, std::size_t& pos, const ScanLimits& limits, FieldSection& section,
                       HeadError& error, Visitor&& visit) {
  for (;;) {
    if (pos >= b.size()) return ScanStatus::need_more;
    if (b[pos] == '\r' || b[pos] == '\n') {
      const auto status = expect_crlf(b, pos, error);
      if (status != ScanStatus::complete) return status;
      pos += 2;
      return ScanStatus::complete;
    }
    FieldLine line;
    const auto status = scan_field_line(b, pos, line, error);
    if (status != ScanStatus::complete) return status;
    if (++section.field_count > limits.max_fields) {
      error = HeadError::too_many_fields;
      return ScanStatus::error;
    }
    // Most fields are none of the proxy's business: skip the bookkeeping for them.
    if (const auto kind = classify_field(line.name, limits.custom_app_fields); kind != FieldKind::other) {
      if (!section.record(kind, line.value, error)) return ScanStatus::error;
      if (const HeadError refused = visit(line, kind, pos); refused != HeadError::none) {
        error = refused;
        return ScanStatus::error;
      }
    }
    pos = line.end;
  }
}

}  // namespace trproxy::policy::detail
