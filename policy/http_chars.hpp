#pragma once
// ASCII character classes and the small byte helpers of the HTTP scanners: RFC 9110 token and
// field-value bytes (16 at a time with SSE2), case folding, hex and decimal digits. Shared by
// the head scanner, the body tracker, the authority parser and the host classifier so there
// is one definition of each class. Header-only: these run per byte on the request path.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace trproxy::policy::chars {

inline std::uint8_t u8(char c) {
  return static_cast<std::uint8_t>(c);
}
inline bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality; bytes outside A-Z compare exactly.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Case-insensitive equality of a field name (validated tchars) with a lower-case token of
// letters, digits and '-'. For tchar input, OR-ing 0x20 lower-cases letters and changes no
// byte into another token character, so 8 bytes compare at once.
inline bool token_iequals(std::string_view name, std::string_view lower_token) {
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

// The value of a hex digit, or -1.
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Plain decimal digits only (no sign, no space), 1 to max_digits of them. max_digits <= 19
// keeps the value below 2^64, so there is no overflow to check.
inline bool parse_decimal(std::string_view digits, std::size_t max_digits, std::uint64_t& out) {
  if (digits.empty() || digits.size() > max_digits || max_digits > 19) return false;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = value;
  return true;
}

// A TCP port: 1 to 5 decimal digits, 1..65535.
inline bool parse_port(std::string_view digits, std::uint16_t& out) {
  std::uint64_t value = 0;
  if (!parse_decimal(digits, 5, value) || value == 0 || value > 65535) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

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

inline constexpr auto token_table = make_token_table();
inline constexpr auto value_table = make_value_table();

// Skips token characters (a field name) from `pos`, 16 at a time: a byte stops the scan if
// it is a control, space, DEL, non-ASCII or one of the RFC 9110 delimiters "(),/:;<=>?@[\]{}
// (':' among them, so a well-formed name stops exactly at its colon).
inline std::size_t skip_token_bytes(std::string_view b, std::size_t pos) {
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
inline std::size_t skip_target_bytes(std::string_view b, std::size_t pos) {
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
inline std::size_t skip_value_bytes(std::string_view b, std::size_t pos) {
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
}  // namespace trproxy::policy::chars
