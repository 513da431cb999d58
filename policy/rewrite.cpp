#include "policy/rewrite.hpp"

#include <cstdlib>
#include <tuple>

namespace trproxy::policy {

// rewrite_head emits at most: 3 pieces for the request line (prefix, "/", path), one kept run
// before each of the at most max_removable_lines dropped lines, then the kept run before the
// closing CRLF, the inserted block and the closing CRLF. The scanner refuses a head with more
// removable lines (too_many_removable_fields), so RequestHead::removable bounds the loop.
static_assert(std::tuple_size_v<decltype(RequestHead::removable)> == max_removable_lines);
static_assert(HeadPieces::capacity >= 3 + max_removable_lines + 3);

void HeadPieces::push(std::string_view part) {
  if (count == capacity) [[unlikely]]
    std::abort();
  parts[count++] = part;
}

std::size_t HeadPieces::total_size() const {
  std::size_t total = 0;
  for (const auto& part : *this) total += part.size();
  return total;
}

std::size_t count_tenant_restriction_lines(const RequestHead& head) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < head.removable_count; ++i) {
    n += head.removable[i].role != LineRole::proxy_hop ? 1 : 0;
  }
  return n;
}

HeadPieces rewrite_head(std::string_view buffer, const RequestHead& head, const RewriteEdits& edits) {
  HeadPieces out;
  auto emit = [&](std::size_t from, std::size_t to) {
    if (to > from) out.push(buffer.substr(from, to - from));
  };
  std::size_t cursor = head.begin;
  if (edits.origin_form && head.form == TargetForm::absolute) {
    const auto path = head.target_path.in(buffer);
    emit(cursor, head.target.pos);
    if (path.empty() || path.front() != '/') out.push("/");
    if (!path.empty()) out.push(path);
    cursor = head.target.pos + head.target.len;
  }
  for (std::size_t i = 0; i < head.removable_count; ++i) {
    const auto& line = head.removable[i];
    const bool drop = line.role == LineRole::proxy_hop ? edits.strip_proxy_hop : edits.strip_tenant_restriction;
    if (!drop) continue;
    emit(cursor, line.begin);
    cursor = line.end;
  }
  // The closing CRLF stays last; inserted lines go right before it.
  const std::size_t final_crlf = head.end - 2;
  emit(cursor, final_crlf);
  if (!edits.inserted.empty()) out.push(edits.inserted);
  emit(final_crlf, head.end);
  return out;
}

}  // namespace trproxy::policy
