#include "policy/http_head.hpp"

#include <cstring>

namespace trproxy::policy {
namespace {

// Looks for an empty line (in any line-ending style, so that malformed heads are also
// found and refused promptly) from `from` onward. Returns true when one is there.
bool has_empty_line(std::string_view b, std::size_t from) {
  std::size_t pos = from;
  while (pos < b.size()) {
    const void* hit = std::memchr(b.data() + pos, '\n', b.size() - pos);
    if (hit == nullptr) return false;
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - b.data());
    if (lf + 1 < b.size() && (b[lf + 1] == '\n' || (b[lf + 1] == '\r' && lf + 2 < b.size()))) return true;
    pos = lf + 1;
  }
  return false;
}

}  // namespace

int http_status(HeadError error) {
  switch (error) {
    case HeadError::head_too_large:
    case HeadError::too_many_fields: return 431;
    default: return 400;
  }
}

std::string_view describe(HeadError error) {
  switch (error) {
    case HeadError::none: return "no error";
    case HeadError::bad_request_line: return "malformed request line";
    case HeadError::bad_status_line: return "malformed status line";
    case HeadError::bad_version: return "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 only)";
    case HeadError::bad_target: return "malformed request target";
    case HeadError::bad_field_name: return "malformed header field name";
    case HeadError::space_before_colon: return "whitespace between header field name and colon";
    case HeadError::obs_fold: return "obsolete line folding in header";
    case HeadError::bare_cr: return "bare CR in request head";
    case HeadError::bare_lf: return "bare LF in request head";
    case HeadError::control_char: return "control character (NUL or other) in request head";
    case HeadError::bad_content_length: return "Content-Length is not plain decimal digits";
    case HeadError::conflicting_content_length: return "conflicting Content-Length headers";
    case HeadError::content_length_with_transfer_encoding: return "both Content-Length and Transfer-Encoding";
    case HeadError::bad_transfer_encoding: return "Transfer-Encoding other than a single chunked";
    case HeadError::missing_host: return "missing Host header";
    case HeadError::multiple_host: return "more than one Host header";
    case HeadError::bad_host: return "malformed or non-ASCII host";
    case HeadError::too_many_removable_fields: return "too many tenant-restriction or proxy header fields";
    case HeadError::connection_nominates_tenant_field:
      return "Connection header names a tenant-restriction field (the next hop would delete it)";
    case HeadError::head_too_large: return "request head too large";
    case HeadError::too_many_fields: return "too many header fields";
  }
  return "malformed request";
}

namespace detail {

// Keeps repeated calls on a growing buffer linear. The first call always scans (a head usually
// arrives whole); later calls only when the new bytes could have completed it: an empty line,
// a NUL (refused at once) or a buffer that reached the size limit.
bool IncrementalScan::worth_scanning(std::string_view& b) {
  if (error_ != HeadError::none) return false;
  if (b.size() > limits_.max_head_bytes) b = b.substr(0, limits_.max_head_bytes);
  if (searched_ == 0) {
    searched_ = b.size();
    return true;
  }
  const std::size_t from = searched_ > 2 ? searched_ - 2 : 0;
  searched_ = b.size();
  return b.size() >= limits_.max_head_bytes || has_empty_line(b, from) ||
         std::memchr(b.data() + from, '\0', b.size() - from) != nullptr;
}

}  // namespace detail
}  // namespace trproxy::policy
