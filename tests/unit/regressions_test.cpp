// HAProxy's habit: every defect fixed adds the bytes that showed it to tests/regressions/, and this
// test replays each one through the request scanner and the body tracker. NAME.http holds the raw
// request; NAME.expect the one-line reason the proxy must refuse it with (the head's error, or
// the body's when the head is valid).

#include "policy/body_framing.hpp"
#include "policy/http_head.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using namespace trproxy;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The reason the proxy refuses `bytes` with, or "" when it accepts them.
std::string refusal_of(const std::string& bytes) {
  policy::RequestScanner scanner;
  policy::RequestHead head;
  const auto status = scanner.scan(bytes, head);
  if (status == policy::ScanStatus::error) return std::string(policy::describe(scanner.error()));
  if (status != policy::ScanStatus::complete) return "(incomplete head)";
  policy::BodyTracker body(head.framing, head.content_length);
  const auto progress = body.feed(std::string_view(bytes).substr(head.end));
  if (progress.status == policy::BodyStatus::error) return std::string(policy::describe(body.error()));
  return "";
}

}  // namespace

TEST_CASE("regressions: every recorded defect's bytes are still refused with their reason") {
  const auto folder = std::filesystem::path(TRPROXY_TEST_DATA).parent_path() / "regressions";
  std::size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".http") continue;
    auto expected = read_file(std::filesystem::path(entry.path()).replace_extension(".expect"));
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    CAPTURE(entry.path().filename().string());
    REQUIRE_FALSE(expected.empty());
    CHECK(refusal_of(read_file(entry.path())) == expected);
    ++replayed;
  }
  CHECK(replayed >= 6);
}
