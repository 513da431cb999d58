#include "policy/http_head.hpp"

#include "policy/header_rules.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace trproxy::policy {
namespace {

// RFC 9110 tchar.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}

// field-vchar, SP and HTAB (obs-text allowed in values, never CTLs or DEL).
constexpr std::array<bool, 256> make_value_table() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  t[' '] = true;
  t['\t'] = true;
  return t;
}

constexpr auto token_table = make_token_table();
constexpr auto value_table = make_value_table();


// Skips token characters (a field name) from `pos`, 16 at a time: a byte stops the scan if
// it is a control, space, DEL, non-ASCII or one of the RFC 9110 delimiters "(),/:;<=>?@[\]{}
// (':' among them, so a well-formed name stops exactly at its colon).
std::size_t skip_token_bytes(std::string_view b, std::size_t pos) {
#if defined(__SSE2__)
  while (pos + 16 <= b.size()) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + pos));
    const auto eq = [&](char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
    // Inclusive ASCII range; bytes >= 0x80 are negative as int8 and never match.
    const auto in = [&](char lo, char hi) {
      return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                           _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
    };
    __m128i stop = _mm_cmplt_epi8(x, _mm_set1_epi8(0x21));  // controls, space, and >= 0x80
    stop = _mm_or_si128(stop, _mm_or_si128(eq(0x7f), eq('"')));
    stop = _mm_or_si128(stop, _mm_or_si128(eq(','), eq('/')));
    stop = _mm_or_si128(stop, _mm_or_si128(eq('{'), eq('}')));
    stop = _mm_or_si128(stop, _mm_or_si128(in('(', ')'), in(':', '@')));
    stop = _mm_or_si128(stop, in('[', ']'));
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return pos + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    pos += 16;
  }
#endif
  while (pos < b.size() && token_table[static_cast<std::uint8_t>(b[pos])]) ++pos;
  return pos;
}

// Skips request-target bytes (visible ASCII) from `pos`, 16 at a time where possible.
std::size_t skip_target_bytes(std::string_view b, std::size_t pos) {
#if defined(__SSE2__)
  const __m128i above_space = _mm_set1_epi8(0x21);
  const __m128i del = _mm_set1_epi8(0x7f);
  while (pos + 16 <= b.size()) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + pos));
    // signed x < 0x21 catches controls, space and every byte >= 0x80 (negative as int8)
    const __m128i stop = _mm_or_si128(_mm_cmplt_epi8(chunk, above_space), _mm_cmpeq_epi8(chunk, del));
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return pos + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    pos += 16;
  }
#endif
  while (pos < b.size() && static_cast<std::uint8_t>(b[pos]) > 0x20 && static_cast<std::uint8_t>(b[pos]) < 0x7f) ++pos;
  return pos;
}

// Skips field-value bytes from `pos`; returns the first position holding a byte that is not
// one (CR at a well-formed line end). Values are most of a head's bytes, so this runs 16 at a
// time: a byte stops the fast loop if it is below 0x20 or is DEL, and only HTAB among those
// is a value byte.
std::size_t skip_value_bytes(std::string_view b, std::size_t pos) {
#if defined(__SSE2__)
  const __m128i below_space = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  while (pos + 16 <= b.size()) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + pos));
    // unsigned x <= 0x1f  <=>  min(x, 0x1f) == x
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, below_space), chunk);
    const __m128i stop = _mm_or_si128(control, _mm_cmpeq_epi8(chunk, del));
    const int mask = _mm_movemask_epi8(stop);
    if (mask == 0) {
      pos += 16;
      continue;
    }
    pos += static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    if (b[pos] != '\t') return pos;
    ++pos;
  }
#endif
  while (pos < b.size() && value_table[static_cast<std::uint8_t>(b[pos])]) ++pos;
  return pos;
}
bool is_ows(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::uint8_t u8(char c) { return static_cast<std::uint8_t>(c); }

// Classify a byte that stopped a scan where CR LF was expected.
HeadError line_end_error(char c) {
  if (c == '\n') return HeadError::bare_lf;
  if (c == '\r') return HeadError::bare_cr;
  return HeadError::control_char;
}

// Expects CR LF at pos. need_more when the buffer ends first.
ScanStatus expect_crlf(std::string_view b, std::size_t pos, HeadError& error) {
  if (pos >= b.size()) return ScanStatus::need_more;
  if (b[pos] != '\r') {
    error = line_end_error(b[pos]);
    return ScanStatus::error;
  }
  if (pos + 1 >= b.size()) return ScanStatus::need_more;
  if (b[pos + 1] != '\n') {
    error = HeadError::bare_cr;
    return ScanStatus::error;
  }
  return ScanStatus::complete;
}

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

// Decides whether a full scan is worth running yet; keeps repeated calls linear. The first
// call always scans (a head usually arrives whole); later calls only when the new bytes
// could have completed it.
bool ready_to_scan(std::string_view b, std::size_t& searched, std::size_t limit) {
  if (searched == 0) {
    searched = b.size();
    return true;
  }
  const std::size_t from = searched > 2 ? searched - 2 : 0;
  searched = b.size();
  return b.size() >= limit || has_empty_line(b, from) || std::memchr(b.data() + from, '\0', b.size() - from);
}

bool parse_decimal(std::string_view v, std::uint64_t& out) {
  if (v.empty() || v.size() > 19) return false;
  std::uint64_t value = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = value;
  return true;
}

bool has_token(std::string_view list, std::string_view token) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    auto item = list.substr(pos, comma - pos);
    while (!item.empty() && is_ows(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_ows(item.back())) item.remove_suffix(1);
    if (detail::iequals(item, token)) return true;
    pos = comma + 1;
  }
  return false;
}

enum class Known : std::uint8_t {
  other,
  host,
  content_length,
  transfer_encoding,
  connection,
  expect,
  upgrade,
  proxy_hop,
  tenant_restriction
};

// Case-insensitive equality of a field name (validated tchars) with a lower-case token of
// letters, digits and '-'. For tchar input, OR-ing 0x20 lower-cases letters and changes no
// byte into another token character, so 8 bytes compare at once.
bool token_iequals(std::string_view name, std::string_view lower_token) {
  if (name.size() != lower_token.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, lower_token.data() + i, 8);
    if ((a | 0x2020202020202020ULL) != b) return false;
  }
  for (; i < name.size(); ++i) {
    if ((name[i] | 0x20) != lower_token[i]) return false;
  }
  return true;
}

// The switch below matches by length first; keep it in step with the inserted header names.
static_assert(restrict_access_context.size() == 23 && restrict_access_to_tenants.size() == 26 &&
              restrict_tenant_access_policy.size() == 33);

Known classify_field(std::string_view name) {
  const auto iequals = token_iequals;
  switch (name.size()) {
    case 4:
      return iequals(name, "host") ? Known::host : Known::other;
    case 6:
      return iequals(name, "expect") ? Known::expect : Known::other;
    case 7:
      return iequals(name, "upgrade") ? Known::upgrade : Known::other;
    case 10:
      return iequals(name, "connection") ? Known::connection : Known::other;
    case 14:
      return iequals(name, "content-length") ? Known::content_length : Known::other;
    case 16:
      return iequals(name, "proxy-connection") ? Known::proxy_hop : Known::other;
    case 17:
      return iequals(name, "transfer-encoding") ? Known::transfer_encoding : Known::other;
    case 19:
      return iequals(name, "proxy-authorization") ? Known::proxy_hop : Known::other;
    case 23:
      return iequals(name, "restrict-access-context") ? Known::tenant_restriction : Known::other;
    case 26:
      return iequals(name, "restrict-access-to-tenants") ? Known::tenant_restriction : Known::other;
    case 33:
      return iequals(name, "sec-restrict-tenant-access-policy") ? Known::tenant_restriction : Known::other;
    default:
      return Known::other;
  }
}

// Shared framing bookkeeping for requests and responses.
struct FramingState {
  unsigned content_length_count = 0;
  unsigned transfer_encoding_count = 0;
  std::uint64_t content_length = 0;
  bool chunked = false;

  bool on_content_length(std::string_view value, HeadError& error) {
    std::uint64_t n = 0;
    if (!parse_decimal(value, n)) {
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

  void on_transfer_encoding(std::string_view value) {
    ++transfer_encoding_count;
    chunked = detail::iequals(value, "chunked");
  }
};

// "HTTP/1.0" or "HTTP/1.1" at pos.
bool parse_version(std::string_view b, std::size_t pos, std::uint8_t& minor) {
  if (b.size() < pos + 8 || b.compare(pos, 7, "HTTP/1.") != 0) return false;
  const char m = b[pos + 7];
  if (m != '0' && m != '1') return false;
  minor = static_cast<std::uint8_t>(m - '0');
  return true;
}

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
  if (t.size() > 7 && detail::iequals(t.substr(0, 7), "http://")) {
    scheme_len = 7;
  } else if (t.size() > 8 && detail::iequals(t.substr(0, 8), "https://")) {
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

ScanStatus fail(HeadError& slot, HeadError error) {
  slot = error;
  return ScanStatus::error;
}

}  // namespace

namespace detail {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

ScanStatus scan_field_line(std::string_view b, std::size_t pos, FieldLine& line, HeadError& error) {
  const std::size_t name_begin = pos;
  pos = skip_token_bytes(b, pos);
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
  pos = skip_value_bytes(b, pos);
  const auto status = expect_crlf(b, pos, error);
  if (status != ScanStatus::complete) return status;
  std::size_t value_end = pos;
  while (value_end > value_begin && is_ows(b[value_end - 1])) --value_end;
  line.value = std::string_view(b.data() + value_begin, value_end - value_begin);
  line.end = pos + 2;
  return ScanStatus::complete;
}

}  // namespace detail

int http_status(HeadError error) {
  switch (error) {
    case HeadError::head_too_large:
    case HeadError::too_many_fields:
      return 431;
    default:
      return 400;
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
    case HeadError::head_too_large: return "request head too large";
    case HeadError::too_many_fields: return "too many header fields";
  }
  return "malformed request";
}

ScanStatus RequestScanner::scan(std::string_view b, RequestHead& head) {
  if (error_ != HeadError::none) return ScanStatus::error;
  if (b.size() > limits_.max_head_bytes) b = b.substr(0, limits_.max_head_bytes);
  if (!ready_to_scan(b, searched_, limits_.max_head_bytes)) return ScanStatus::need_more;

  const auto need_more_or_too_large = [&]() {
    return b.size() >= limits_.max_head_bytes ? fail(error_, HeadError::head_too_large) : ScanStatus::need_more;
  };

  head.clear();
  std::size_t pos = 0;
  // RFC 9112 2.2: tolerate a few empty lines before the request line (left by some clients
  // after a body); they are not forwarded.
  for (int i = 0; i < 4 && pos + 1 < b.size() && b[pos] == '\r' && b[pos + 1] == '\n'; ++i) pos += 2;
  head.begin = static_cast<std::uint32_t>(pos);

  // request-line = method SP request-target SP HTTP-version CRLF
  const std::size_t method_begin = pos;
  pos = skip_token_bytes(b, pos);
  if (pos >= b.size()) return need_more_or_too_large();
  if (pos == method_begin || b[pos] != ' ') return fail(error_, HeadError::bad_request_line);
  head.method = span_of(b, b.substr(method_begin, pos - method_begin));
  head.method_head = head.method.in(b) == "HEAD";
  head.method_connect = head.method.in(b) == "CONNECT";
  const std::size_t target_begin = ++pos;
  pos = skip_target_bytes(b, pos);
  if (pos >= b.size()) return need_more_or_too_large();
  if (pos == target_begin || b[pos] != ' ') {
    return fail(error_, u8(b[pos]) >= 0x7f ? HeadError::bad_target : HeadError::bad_request_line);
  }
  head.target = span_of(b, b.substr(target_begin, pos - target_begin));
  ++pos;
  if (b.size() < pos + 10) return need_more_or_too_large();
  if (!parse_version(b, pos, head.minor_version)) {
    return fail(error_, b.compare(pos, 5, "HTTP/") == 0 ? HeadError::bad_version : HeadError::bad_request_line);
  }
  pos += 8;
  if (pos < b.size() && b[pos] != '\r' && b[pos] != '\n') return fail(error_, HeadError::bad_request_line);
  if (const auto s = expect_crlf(b, pos, error_); s != ScanStatus::complete) {
    return s == ScanStatus::need_more ? need_more_or_too_large() : s;
  }
  pos += 2;
  if (!parse_target(b, head)) return fail(error_, HeadError::bad_target);

  FramingState framing;
  unsigned host_count = 0;
  bool connection_close = false;
  bool connection_keep_alive = false;
  for (;;) {
    if (pos >= b.size()) return need_more_or_too_large();
    if (b[pos] == '\r' || b[pos] == '\n') {
      const auto s = expect_crlf(b, pos, error_);
      if (s == ScanStatus::need_more) return need_more_or_too_large();
      if (s == ScanStatus::error) return s;
      pos += 2;
      break;
    }
    detail::FieldLine line;
    const auto s = detail::scan_field_line(b, pos, line, error_);
    if (s == ScanStatus::need_more) return need_more_or_too_large();
    if (s == ScanStatus::error) return s;
    if (++head.field_count > limits_.max_fields) return fail(error_, HeadError::too_many_fields);
    const auto known = classify_field(line.name);
    switch (known) {
      case Known::host:
        ++host_count;
        head.host = span_of(b, line.value);
        break;
      case Known::content_length:
        if (!framing.on_content_length(line.value, error_)) return ScanStatus::error;
        break;
      case Known::transfer_encoding:
        framing.on_transfer_encoding(line.value);
        break;
      case Known::connection:
        connection_close = connection_close || has_token(line.value, "close");
        connection_keep_alive = connection_keep_alive || has_token(line.value, "keep-alive");
        head.upgrade = head.upgrade || has_token(line.value, "upgrade");
        break;
      case Known::expect:
        head.expect_continue = detail::iequals(line.value, "100-continue");
        break;
      case Known::proxy_hop:
      case Known::tenant_restriction:
        if (head.removable_count == max_removable_lines) return fail(error_, HeadError::too_many_removable_fields);
        head.removable[head.removable_count++] =
            LineSpan{static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(line.end),
                     known == Known::proxy_hop ? LineRole::proxy_hop : LineRole::tenant_restriction};
        break;
      case Known::upgrade:
      case Known::other:
        break;
    }
    pos = line.end;
  }
  head.end = static_cast<std::uint32_t>(pos);

  if (framing.transfer_encoding_count > 0) {
    if (framing.content_length_count > 0) return fail(error_, HeadError::content_length_with_transfer_encoding);
    if (framing.transfer_encoding_count > 1 || !framing.chunked || head.minor_version == 0) {
      return fail(error_, HeadError::bad_transfer_encoding);
    }
    head.framing = BodyFraming::chunked;
  } else if (framing.content_length_count > 0) {
    head.framing = BodyFraming::content_length;
    head.content_length = framing.content_length;
  }
  if (host_count > 1) return fail(error_, HeadError::multiple_host);
  if (host_count == 0 && head.minor_version == 1) return fail(error_, HeadError::missing_host);
  if (host_count == 1 && !parse_authority(head.host.in(b), 80, false)) return fail(error_, HeadError::bad_host);
  head.keep_alive = head.minor_version == 1 ? !connection_close : (connection_keep_alive && !connection_close);
  return ScanStatus::complete;
}

ScanStatus ResponseScanner::scan(std::string_view b, bool request_was_head, ResponseHead& head) {
  if (error_ != HeadError::none) return ScanStatus::error;
  if (b.size() > limits_.max_head_bytes) b = b.substr(0, limits_.max_head_bytes);
  if (!ready_to_scan(b, searched_, limits_.max_head_bytes)) return ScanStatus::need_more;
  const auto need_more_or_too_large = [&]() {
    return b.size() >= limits_.max_head_bytes ? fail(error_, HeadError::head_too_large) : ScanStatus::need_more;
  };

  head = ResponseHead{};
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
  if (b.size() < 13) return need_more_or_too_large();
  if (!parse_version(b, 0, head.minor_version) || b[8] != ' ') return fail(error_, HeadError::bad_status_line);
  unsigned status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (b[i] < '0' || b[i] > '9') return fail(error_, HeadError::bad_status_line);
    status = status * 10 + static_cast<unsigned>(b[i] - '0');
  }
  if (status < 100 || (b[12] != ' ' && b[12] != '\r')) return fail(error_, HeadError::bad_status_line);
  head.status = static_cast<std::uint16_t>(status);
  std::size_t pos = 12;
  while (pos < b.size() && (value_table[u8(b[pos])])) ++pos;
  if (const auto s = expect_crlf(b, pos, error_); s != ScanStatus::complete) {
    return s == ScanStatus::need_more ? need_more_or_too_large() : s;
  }
  pos += 2;

  FramingState framing;
  bool connection_close = false;
  bool connection_keep_alive = false;
  std::size_t fields = 0;
  for (;;) {
    if (pos >= b.size()) return need_more_or_too_large();
    if (b[pos] == '\r' || b[pos] == '\n') {
      const auto s = expect_crlf(b, pos, error_);
      if (s == ScanStatus::need_more) return need_more_or_too_large();
      if (s == ScanStatus::error) return s;
      pos += 2;
      break;
    }
    detail::FieldLine line;
    const auto s = detail::scan_field_line(b, pos, line, error_);
    if (s == ScanStatus::need_more) return need_more_or_too_large();
    if (s == ScanStatus::error) return s;
    if (++fields > limits_.max_fields) return fail(error_, HeadError::too_many_fields);
    switch (classify_field(line.name)) {
      case Known::content_length:
        if (!framing.on_content_length(line.value, error_)) return ScanStatus::error;
        break;
      case Known::transfer_encoding:
        ++framing.transfer_encoding_count;
        // Only the final coding matters for a response: chunked last means chunked framing.
        framing.chunked = line.value.size() >= 7 &&
                          detail::iequals(line.value.substr(line.value.size() - 7), "chunked") &&
                          (line.value.size() == 7 || line.value[line.value.size() - 8] == ',' ||
                           is_ows(line.value[line.value.size() - 8]));
        break;
      case Known::connection:
        connection_close = connection_close || has_token(line.value, "close");
        connection_keep_alive = connection_keep_alive || has_token(line.value, "keep-alive");
        break;
      default:
        break;
    }
    pos = line.end;
  }
  head.end = static_cast<std::uint32_t>(pos);
  head.keep_alive = head.minor_version == 1 ? !connection_close : (connection_keep_alive && !connection_close);

  if (framing.transfer_encoding_count > 0 && framing.content_length_count > 0) {
    return fail(error_, HeadError::content_length_with_transfer_encoding);
  }
  if (request_was_head || status < 200 || status == 204 || status == 304) {
    head.framing = BodyFraming::none;
  } else if (framing.transfer_encoding_count > 0) {
    if (framing.transfer_encoding_count == 1 && framing.chunked) {
      head.framing = BodyFraming::chunked;
    } else {
      head.framing = BodyFraming::until_close;
      head.keep_alive = false;
    }
  } else if (framing.content_length_count > 0) {
    head.framing = BodyFraming::content_length;
    head.content_length = framing.content_length;
  } else {
    head.framing = BodyFraming::until_close;
    head.keep_alive = false;
  }
  return ScanStatus::complete;
}

}  // namespace trproxy::policy
