#include "policy/rewrite.hpp"
#include "policy/policy.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy;
using namespace trproxy::policy;

namespace {

std::string flatten(const HeadPieces& pieces) {
  std::string out;
  for (const auto& part : pieces) out.append(part);
  return out;
}

RequestHead scan_ok(const std::string& text) {
  RequestScanner scanner;
  RequestHead head;
  REQUIRE(scanner.scan(text, head) == ScanStatus::complete);
  return head;
}

}  // namespace

TEST_CASE("rewrite strips every client tenant header and inserts ours before the final CRLF") {
  const Policy p(test::load_yaml(test::v2_yaml));
  const std::string text =
      "GET /x HTTP/1.1\r\n"
      "Host: login.microsoftonline.com\r\n"
      "sec-restrict-tenant-access-policy: 00000000-0000-0000-0000-000000000000:x\r\n"
      "Cookie: a=b\r\n"
      "Restrict-Access-To-Tenants: evil.com\r\n"
      "RESTRICT-ACCESS-CONTEXT: 00000000-0000-0000-0000-000000000000\r\n"
      "\r\nBODY";
  const auto head = scan_ok(text);
  const auto pieces =
      rewrite_head(text, head, RewriteEdits{true, false, false, p.headers().inserted_block(HostClass::auth)});
  CHECK(
      flatten(pieces) ==
      "GET /x HTTP/1.1\r\n"
      "Host: login.microsoftonline.com\r\n"
      "Cookie: a=b\r\n"
      "sec-Restrict-Tenant-Access-Policy: aaaabbbb-0000-cccc-1111-dddd2222eeee:1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\r\n"
      "\r\n");
  CHECK(pieces.total_size() == flatten(pieces).size());
  CHECK(count_tenant_restriction_lines(head) == 3);
  // Zero copy: every original piece points into the input buffer.
  CHECK(pieces.parts[0].data() == text.data());
}

TEST_CASE("rewrite without anything to strip is the original plus the block") {
  const Policy p(test::load_yaml(test::v1_yaml));
  const std::string text = "GET / HTTP/1.1\r\nHost: login.live.com\r\nAccept: */*\r\n\r\n";
  const auto head = scan_ok(text);
  const auto block = p.headers().inserted_block(HostClass::msa);
  const auto pieces = rewrite_head(text, head, RewriteEdits{true, false, false, block});
  CHECK(pieces.count == 3);
  CHECK(flatten(pieces) == text.substr(0, text.size() - 2) + std::string(block) + "\r\n");
}

TEST_CASE("rewrite with an empty block only strips") {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nRestrict-Access-Context: x\r\n\r\n";
  const auto pieces = rewrite_head(text, scan_ok(text), RewriteEdits{true, false, false, {}});
  CHECK(flatten(pieces) == "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST_CASE("plain-HTTP forward: origin-form target and no proxy hop fields") {
  const std::string text =
      "GET http://login.live.com/ppsecure?x=1 HTTP/1.1\r\n"
      "Host: login.live.com\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
      "Accept: */*\r\n\r\n";
  const auto pieces = rewrite_head(text, scan_ok(text), RewriteEdits{false, true, true, {}});
  CHECK(flatten(pieces) == "GET /ppsecure?x=1 HTTP/1.1\r\nHost: login.live.com\r\nAccept: */*\r\n\r\n");
  const std::string bare = "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n";
  CHECK(flatten(rewrite_head(bare, scan_ok(bare), RewriteEdits{false, true, true, {}})) ==
        "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const std::string query = "GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n";
  CHECK(flatten(rewrite_head(query, scan_ok(query), RewriteEdits{false, true, true, {}})) ==
        "GET /?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

TEST_CASE("inside an intercepted connection proxy fields are left alone") {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: x\r\n\r\n";
  CHECK(flatten(rewrite_head(text, scan_ok(text), RewriteEdits{true, false, false, {}})) == text);
}

TEST_CASE("leading empty lines are not forwarded") {
  const std::string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(flatten(rewrite_head(text, scan_ok(text), RewriteEdits{})) == "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST_CASE("the worst-case head fills HeadPieces exactly") {
  // Absolute target with a query-only path (prefix, "/", "?q"), every removable line dropped
  // with a kept line before it, a kept line at the end and an inserted block.
  std::string text = "GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n";
  for (std::size_t i = 0; i < max_removable_lines; ++i) {
    text += i % 2 == 0 ? "Restrict-Access-Context: x\r\n" : "Proxy-Connection: close\r\n";
    text += "X-Kept: " + std::to_string(i) + "\r\n";
  }
  text += "\r\n";
  RequestScanner scanner(ScanLimits{64 * 1024, 4 * max_removable_lines});
  RequestHead head;
  REQUIRE(scanner.scan(text, head) == ScanStatus::complete);
  REQUIRE(head.removable_count == max_removable_lines);
  const auto pieces = rewrite_head(text, head, RewriteEdits{true, true, true, "X-Ours: 1\r\n"});
  CHECK(pieces.count == HeadPieces::capacity);
  const auto out = flatten(pieces);
  CHECK(out.starts_with("GET /?q HTTP/1.1\r\nHost: example.com\r\nX-Kept: 0\r\n"));
  CHECK(out.ends_with("X-Kept: 63\r\nX-Ours: 1\r\n\r\n"));
  CHECK(out.find("Restrict-Access") == std::string::npos);
  CHECK(out.find("Proxy-Connection") == std::string::npos);
}

TEST_CASE("underscore spellings of the tenant headers are stripped like the originals") {
  const std::string text =
      "GET / HTTP/1.1\r\nHost: login.microsoftonline.com\r\n"
      "Restrict_Access_To_Tenants: evil.example\r\n"
      "sec_Restrict_Tenant_Access_Policy: x:y\r\n"
      "X-Keep_Me: 1\r\n\r\n";
  CHECK(flatten(rewrite_head(text, scan_ok(text), RewriteEdits{true, false, false, "X-Ours: 1\r\n"})) ==
        "GET / HTTP/1.1\r\nHost: login.microsoftonline.com\r\nX-Keep_Me: 1\r\nX-Ours: 1\r\n\r\n");
}
