// libFuzzer target for the zero-copy rewrite. Invariants checked on every input the scanner
// accepts:
//  1. it never crashes (ASan/UBSan);
//  2. the rewritten head scans again, and its only tenant-restriction lines are ours (no Entra
//     or app tenant line of the client's is left);
//  3. output minus the inserted block equals input minus the stripped lines (Entra and app
//     tenant lines; the proxy fields stay, as on an intercepted request).
// Whatever follows the head is fed to the body tracker, which must never overrun its input.

#include "policy/body_framing.hpp"
#include "policy/rewrite.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view inserted = "sec-Restrict-Tenant-Access-Policy: aaaa:bbbb\r\n";

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trproxy::policy;
  const std::string input(reinterpret_cast<const char*>(data), size);
  RequestScanner scanner(ScanLimits{4096, 64});
  RequestHead head;
  if (scanner.scan(input, head) != ScanStatus::complete) return 0;
  require(head.end <= input.size() && head.begin < head.end);

  const auto pieces = rewrite_head(input, head, RewriteEdits{true, false, false, inserted});
  std::string output;
  for (const auto& part : pieces) output += part;

  // 3: remove our block and compare with the input minus stripped lines.
  std::string expected = input.substr(head.begin, head.end - head.begin);
  for (std::size_t i = head.removable_count; i-- > 0;) {
    const auto& line = head.removable[i];
    if (line.role != LineRole::proxy_hop) expected.erase(line.begin - head.begin, line.end - line.begin);
  }
  const auto at = output.size() - 2 - inserted.size();
  require(output.compare(at, inserted.size(), inserted) == 0);
  std::string without_block = output;
  without_block.erase(at, inserted.size());
  require(without_block == expected);

  // 2: the output is a valid head whose only tenant-restriction line is the inserted one.
  RequestScanner rescanner(ScanLimits{8192, 128});
  RequestHead again;
  require(rescanner.scan(output, again) == ScanStatus::complete);
  require(again.end == output.size());
  require(count_tenant_restriction_lines(again) == 1);
  for (std::size_t i = 0; i < again.removable_count; ++i) {
    if (again.removable[i].role == LineRole::tenant_restriction) {
      require(std::string_view(output).substr(again.removable[i].begin,
                                              again.removable[i].end - again.removable[i].begin) == inserted);
    }
  }

  BodyTracker body(head.framing, head.content_length);
  const auto rest = std::string_view(input).substr(head.end);
  const auto progress = body.feed(rest);
  require(progress.consumed <= rest.size());
  return 0;
}
