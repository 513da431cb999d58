#include "policy/block_codes.hpp"

#include <algorithm>
#include <cstring>

namespace trproxy::policy {
namespace {

constexpr std::array<std::string_view, block_code_count> names{
    "AADSTS500021", "AADSTS5000211", "AADSTS1000108", "80045C4D", "80045C54", "tenant_restriction_violation"};
constexpr std::array<BlockCode, 3> auth_codes{BlockCode::aadsts500021, BlockCode::aadsts5000211,
                                              BlockCode::aadsts1000108};
constexpr std::array<BlockCode, 2> msa_codes{BlockCode::msa_80045c4d, BlockCode::msa_80045c54};
constexpr std::array<BlockCode, 1> app_codes{BlockCode::app_tenant_restriction_violation};
static_assert(static_cast<std::size_t>(BlockCode::app_tenant_restriction_violation) == sign_in_block_code_count);

bool is_code_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char fold(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool matches_at(std::string_view text, std::size_t pos, std::string_view code) {
  if (text.size() - pos < code.size()) return false;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (fold(text[pos + i]) != fold(code[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(BlockCode code) {
  return names[static_cast<std::size_t>(code)];
}

std::span<const BlockCode> block_codes_for(HostClass host_class) {
  if (host_class == HostClass::auth) return auth_codes;
  if (host_class == HostClass::msa) return msa_codes;
  if (host_class == HostClass::app) return app_codes;
  return {};
}

BlockCodeMatcher::BlockCodeMatcher(HostClass host_class) : codes_(block_codes_for(host_class)) {
  anchor_ = host_class == HostClass::msa   ? std::string_view("80045")
            : host_class == HostClass::app ? std::string_view("tenant_restriction_violation")
                                           : std::string_view("AADSTS");
}

bool BlockCodeMatcher::feed(std::string_view text) {
  while (!found_ && !codes_.empty() && !text.empty()) {
    const auto n = std::min(text.size(), step_bytes);
    std::memcpy(window_.data() + carried_, text.data(), n);
    text.remove_prefix(n);
    const auto size = carried_ + n;
    scan(size, false);
    // Keep the tail: the undecided starts and the bytes before them.
    const auto keep = std::min(size, carry_bytes);
    const auto dropped = size - keep;
    std::memmove(window_.data(), window_.data() + dropped, keep);
    carried_ = keep;
    undecided_from_ = undecided_from_ > dropped ? undecided_from_ - dropped : 0;
    if (dropped > 0) at_stream_start_ = false;
  }
  return found_.has_value();
}

void BlockCodeMatcher::finish() {
  if (!found_ && !codes_.empty()) scan(carried_, true);
}

void BlockCodeMatcher::scan(std::size_t size, bool at_end) {
  const std::string_view text(window_.data(), size);
  // A start is decided once the byte after the longest code is here (or the text has ended).
  const std::size_t limit = at_end ? size : (size > longest_code ? size - longest_code : 0);
  std::size_t pos = undecided_from_;
  while (pos < limit) {
    pos = text.find(anchor_, pos);
    if (pos == std::string_view::npos || pos >= limit) break;
    const bool msa = anchor_.front() == '8';
    const bool before_ok = [&] {
      if (pos == 0) return at_stream_start_;
      if (!is_code_char(text[pos - 1])) return true;
      // 0x80045C4D: the prefix itself must start a token.
      return msa && pos >= 2 && text[pos - 2] == '0' && fold(text[pos - 1]) == 'X' &&
             ((pos == 2 && at_stream_start_) || (pos > 2 && !is_code_char(text[pos - 3])));
    }();
    if (before_ok) {
      for (const auto code : codes_) {
        const auto name = to_string(code);
        if (!matches_at(text, pos, name)) continue;
        const auto after = pos + name.size();
        if (after == size ? at_end : !is_code_char(text[after])) {
          found_ = code;
          return;
        }
      }
    }
    ++pos;
  }
  undecided_from_ = std::max(undecided_from_, limit);
}

}  // namespace trproxy::policy
