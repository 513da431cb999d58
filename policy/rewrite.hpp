#pragma once
// The zero-copy fast path: a scanned request head becomes a short list of byte spans —
// the original bytes minus the dropped field lines, plus the precomputed inserted block just
// before the closing empty line. Nothing is parsed into objects or re-serialised; the caller
// hands the spans to a gather write.

#include "policy/http_head.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace trproxy::policy {

struct RewriteEdits {
  // Every enforced request to an intercepted host: the Entra and app tenant fields.
  bool strip_tenant_restriction = true;
  bool strip_proxy_hop = false;  // plain-HTTP forward only
  bool origin_form = false;      // replace an absolute-form target by its path
  std::string_view inserted;     // header lines to add, each ending in CRLF
};

// The most pieces rewrite_head can emit, by where they come from.
// Request line: the bytes before an absolute target, a "/" and the target's path.
inline constexpr std::size_t request_line_pieces = 3;
// One run of kept bytes before each dropped field line.
inline constexpr std::size_t pieces_per_removable_line = 1;
// The kept bytes after the last dropped line, the inserted block, the closing CRLF.
inline constexpr std::size_t closing_pieces = 3;

struct HeadPieces {
  static constexpr std::size_t capacity =
      request_line_pieces + pieces_per_removable_line * max_removable_lines + closing_pieces;
  std::array<std::string_view, capacity> parts{};
  std::size_t count = 0;

  // Appends one piece. rewrite_head never emits more than `capacity` (see the static_assert
  // in rewrite.cpp); overflowing would corrupt memory, so it aborts instead.
  void push(std::string_view part);

  [[nodiscard]] std::size_t total_size() const;
  [[nodiscard]] const std::string_view* begin() const { return parts.data(); }
  [[nodiscard]] const std::string_view* end() const { return parts.data() + count; }
};

// `buffer` is the one the head was scanned from. The spans point into `buffer` and into
// `edits.inserted`, so both must outlive the write.
HeadPieces rewrite_head(std::string_view buffer, const RequestHead& head, const RewriteEdits& edits);

// How many client-supplied tenant-restriction and app tenant lines the head carried (spoofing
// attempts).
std::size_t count_tenant_restriction_lines(const RequestHead& head);

}  // namespace trproxy::policy
