#pragma once
// The one HTTP/1.1 head scanner: request heads (CONNECT authority-form, absolute-form,
// origin-form) and response heads, read in place from the caller's buffer.
//
// Why not Beast's basic_parser: on Boost 1.81 it accepts Content-Length together with a
// non-chunked Transfer-Encoding, silently unfolds obs-fold into a private buffer, and offers
// no byte offsets of whole field lines, which the zero-copy rewrite needs. A strict scanner of
// our own is also faster (bench/README.md records the figures against Beast and http-parser).
//
// Everything ambiguous is refused; see HeadError. Offsets are relative to the start of the
// buffer handed to scan(), which must hold the message from its first byte.

#include "policy/authority.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace trproxy::policy {

enum class HeadError : std::uint8_t {
  none,
  bad_request_line,
  bad_status_line,
  bad_version,
  bad_target,
  bad_field_name,
  space_before_colon,
  obs_fold,
  bare_cr,
  bare_lf,
  control_char,
  bad_content_length,
  conflicting_content_length,
  content_length_with_transfer_encoding,
  bad_transfer_encoding,
  missing_host,
  multiple_host,
  bad_host,
  too_many_removable_fields,
  connection_nominates_tenant_field,  // Connection: sec-Restrict-Tenant-Access-Policy, ...
  head_too_large,
  too_many_fields,  // last: tests/unit/failgrind_test.cpp grinds every error up to here
};

// 400 for ambiguity and syntax, 431 for size (DESIGN.md).
int http_status(HeadError error);
// One short line for the client and the log; never echoes client bytes.
std::string_view describe(HeadError error);

enum class ScanStatus : std::uint8_t { complete, need_more, error };

enum class TargetForm : std::uint8_t { origin, absolute, authority, asterisk };

enum class BodyFraming : std::uint8_t { none, content_length, chunked, until_close };

// Field lines the rewrite may drop, depending on where the request goes.
enum class LineRole : std::uint8_t { tenant_restriction, proxy_hop, app_field };

struct LineSpan {
  std::uint32_t begin;  // first byte of the field name
  std::uint32_t end;    // one past the line's LF
  LineRole role;
};

inline constexpr std::size_t max_removable_lines = 64;

class FieldNames;

struct ScanLimits {
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t max_fields = 128;
  // The apps.custom header names, also removable (policy::Policy::custom_app_fields()); the
  // policy they come from must outlive the scan.
  const FieldNames* custom_app_fields = nullptr;
};

// A run of bytes in the buffer a head was scanned from. Offsets, never pointers: a later
// consume()/prepare() on that buffer cannot leave it dangling.
struct Span {
  std::uint32_t pos = 0;
  std::uint32_t len = 0;
  [[nodiscard]] std::string_view in(std::string_view buffer) const { return buffer.substr(pos, len); }
  [[nodiscard]] bool empty() const { return len == 0; }
};

// A scanned request head. It holds offsets and scalars only, so it stays valid however the
// buffer it was scanned from is consumed, grown or copied: resolve a Span against the bytes
// of the head (the same offsets, wherever they now live) with Span::in().
struct RequestHead {
  std::uint32_t begin = 0;  // first byte of the request line (leading empty lines skipped)
  std::uint32_t end = 0;    // one past the empty line that closes the head
  Span method;
  Span target;
  std::uint8_t minor_version = 1;
  TargetForm form = TargetForm::origin;
  bool method_head = false;     // exactly "HEAD": its response carries no body
  bool method_connect = false;  // exactly "CONNECT"
  // absolute-form and authority-form targets, split:
  bool https_scheme = false;
  Span authority_host;  // without brackets for IPv6 literals
  std::uint16_t authority_port = 0;
  bool authority_ip_literal_v6 = false;
  Span target_path;  // origin-form part of an absolute target; empty means "/"
  Span host;         // the Host field's value, trimmed; empty when absent
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  bool upgrade = false;
  std::uint16_t field_count = 0;
  std::uint8_t removable_count = 0;
  std::array<LineSpan, max_removable_lines> removable;  // the first removable_count are set

  // The split absolute- or authority-form target as views into `buffer`.
  [[nodiscard]] Authority target_authority(std::string_view buffer) const {
    return Authority{authority_host.in(buffer), authority_port, authority_ip_literal_v6};
  }
  // Resets every field for a new scan; the span array is left as is (only its used part counts).
  void clear() {
    begin = end = 0;
    method = target = target_path = host = authority_host = {};
    minor_version = 1;
    form = TargetForm::origin;
    method_head = method_connect = false;
    https_scheme = false;
    authority_port = 0;
    authority_ip_literal_v6 = false;
    framing = BodyFraming::none;
    content_length = 0;
    keep_alive = true;
    expect_continue = upgrade = false;
    field_count = 0;
    removable_count = 0;
  }
  [[nodiscard]] std::size_t size() const { return end; }
};

struct ResponseHead {
  std::uint32_t end = 0;
  std::uint16_t status = 0;
  std::uint8_t minor_version = 1;
  BodyFraming framing = BodyFraming::until_close;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
};

namespace detail {
// What both scanners keep between calls on a buffer that grows, and the bookkeeping at the
// start of each call. It remembers how far it has looked for the closing empty line, so a head
// trickling in byte by byte costs O(n), not O(n²).
class IncrementalScan {
 public:
  [[nodiscard]] HeadError error() const { return error_; }
  void reset() {
    searched_ = 0;
    error_ = HeadError::none;
  }

 protected:
  explicit IncrementalScan(ScanLimits limits) : limits_(limits) {}

  // Truncates `b` to the head size limit. False when this call cannot complete a head: the
  // scan has failed already (error() is set) or no byte since the last call could end it.
  bool worth_scanning(std::string_view& b);
  ScanStatus fail(HeadError error) {
    error_ = error;
    return ScanStatus::error;
  }
  // The result of a step that did not complete: an incomplete head waits for more bytes
  // unless it already fills the size limit.
  ScanStatus unfinished(std::string_view b, ScanStatus status) {
    if (status != ScanStatus::need_more) return status;
    return b.size() >= limits_.max_head_bytes ? fail(HeadError::head_too_large) : ScanStatus::need_more;
  }

  ScanLimits limits_;
  std::size_t searched_ = 0;
  HeadError error_ = HeadError::none;
};
}  // namespace detail

// Reads one request head from a buffer that grows between calls.
class RequestScanner : public detail::IncrementalScan {
 public:
  explicit RequestScanner(ScanLimits limits = {}) : IncrementalScan(limits) {}

  ScanStatus scan(std::string_view buffer, RequestHead& head);
};

// Reads one response head from a buffer that grows between calls.
class ResponseScanner : public detail::IncrementalScan {
 public:
  explicit ResponseScanner(ScanLimits limits = {}) : IncrementalScan(limits) {}

  // request_was_head: a response to HEAD carries no body whatever its fields say.
  ScanStatus scan(std::string_view buffer, bool request_was_head, ResponseHead& head);
};

}  // namespace trproxy::policy
