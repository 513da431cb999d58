#include "policy/body_framing.hpp"

#include "grind.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy::policy;

namespace {

BodyProgress feed_all(BodyTracker& tracker, const std::string& data) {
  return tracker.feed(data);
}

BodyError chunked_error(const std::string& body) {
  BodyTracker tracker(BodyFraming::chunked, 0);
  const auto progress = tracker.feed(body);
  INFO(body);
  CHECK(progress.status == BodyStatus::error);
  return tracker.error();
}

}  // namespace

TEST_CASE("Content-Length bodies end exactly") {
  BodyTracker tracker(BodyFraming::content_length, 5);
  auto p = tracker.feed("he");
  CHECK(p.status == BodyStatus::more);
  CHECK(p.consumed == 2);
  p = tracker.feed("lloGET / HTTP/1.1");
  CHECK(p.status == BodyStatus::done);
  CHECK(p.consumed == 3);
  BodyTracker empty(BodyFraming::content_length, 0);
  CHECK(empty.done());
  BodyTracker none(BodyFraming::none, 0);
  CHECK(none.feed("x").consumed == 0);
}

TEST_CASE("chunked bodies are delimited without decoding") {
  const std::string body = "5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
  BodyTracker tracker(BodyFraming::chunked, 0);
  const auto p = feed_all(tracker, body + "NEXT");
  CHECK(p.status == BodyStatus::done);
  CHECK(p.consumed == body.size());
}

TEST_CASE("chunked bodies split at every byte end in the same place") {
  const std::string body = "A\r\n0123456789\r\n0\r\nT: v\r\n\r\n";
  for (std::size_t split = 0; split <= body.size(); ++split) {
    BodyTracker tracker(BodyFraming::chunked, 0);
    const auto delivered = trproxy::test::feed_like_a_pump(tracker, body, split);
    INFO("split " << split);
    CHECK(delivered.last.status == BodyStatus::done);
    CHECK(delivered.consumed == body.size());
  }
}

TEST_CASE("an unfinished line is held back, not consumed") {
  BodyTracker tracker(BodyFraming::chunked, 0);
  auto p = tracker.feed("5\r\nhel");
  CHECK(p.status == BodyStatus::more);
  CHECK(p.consumed == 6);  // the size line and the data so far
  p = tracker.feed("lo\r\n0\r\nX-Tr");
  CHECK(p.status == BodyStatus::more);
  CHECK(p.consumed == 7);  // "lo", its CRLF and the last-chunk line; the trailer start waits
  p = tracker.feed("X-Trailer: 1\r\n\r\nNEXT");
  CHECK(p.status == BodyStatus::done);
  CHECK(p.consumed == 16);
  // A line may be as long as max_line_bytes, CRLF included, and no longer.
  const std::string longest = "X: " + std::string(BodyTracker::max_line_bytes - 5, 'v') + "\r\n";
  BodyTracker fits(BodyFraming::chunked, 0);
  CHECK(fits.feed("0\r\n" + longest + "\r\n").status == BodyStatus::done);
}

TEST_CASE("ambiguous chunk framing is refused") {
  CHECK(chunked_error("0x5\r\nhello\r\n0\r\n\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error("+5\r\nhello\r\n0\r\n\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error("-5\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error(" 5\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error("5 \r\nhello\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error("\r\n") == BodyError::bad_chunk_size);
  CHECK(chunked_error("1000000000000000\r\n") == BodyError::bad_chunk_size);  // 16 hex digits
  CHECK(chunked_error("5\nhello\r\n") == BodyError::bad_chunk_line_end);
  CHECK(chunked_error("5\rhello\r\n") == BodyError::bad_chunk_line_end);
  CHECK(chunked_error("5\r\nhello\n0\r\n\r\n") == BodyError::bad_chunk_line_end);
  CHECK(chunked_error("5\r\nhelloX\r\n") == BodyError::bad_chunk_line_end);
  CHECK(chunked_error("5;a\nb\r\nhello\r\n") == BodyError::bad_chunk_line_end);
  CHECK(chunked_error(std::string("5;a\0b\r\n", 7)) == BodyError::bad_chunk_extension);
  CHECK(chunked_error("0\r\nbad trailer\r\n\r\n") == BodyError::bad_trailer);
  CHECK(chunked_error("0\r\nX: 1\n\r\n") == BodyError::bad_trailer);
  CHECK(chunked_error("0\r\n\n") == BodyError::bad_trailer);
  CHECK(chunked_error("0\r\nX : 1\r\n\r\n") == BodyError::bad_trailer);
  CHECK(chunked_error("0\r\n" + std::string(9000, 'a')) == BodyError::trailer_too_large);
  // A large but legal size is accepted.
  BodyTracker large(BodyFraming::chunked, 0);
  CHECK(large.feed("fffffffffffffff\r\nabc").status == BodyStatus::more);
}

TEST_CASE("a tenant-restriction field in a trailer fails closed, nothing of it consumed (issue 19.3)") {
  struct Row {
    const char* trailer;
    bool refused;
  };
  for (const auto& row :
       {Row{"sec-Restrict-Tenant-Access-Policy: t:p", true}, Row{"RESTRICT-ACCESS-TO-TENANTS: contoso.com", true},
        Row{"Restrict_Access_Context: c", true}, Row{"restrict-access-context:", true},
        Row{"X-Restrict-Access-Context: c", false}, Row{"X-Checksum: abc", false}}) {
    INFO(row.trailer);
    const std::string body = std::string("5\r\nhello\r\n0\r\n") + row.trailer + "\r\n\r\n";
    BodyTracker tracker(BodyFraming::chunked, 0);
    const auto progress = tracker.feed(body);
    if (row.refused) {
      CHECK(progress.status == BodyStatus::error);
      CHECK(tracker.error() == BodyError::tenant_field_in_trailer);
      CHECK(progress.consumed == 13);  // the chunk and the last-chunk line: never the field
    } else {
      CHECK(progress.status == BodyStatus::done);
      CHECK(progress.consumed == body.size());
    }
  }
}

TEST_CASE("a smuggled request inside a chunked body stays body") {
  // The classic: a length that swallows what a lax parser would treat as a second request.
  const std::string body = "20\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n";
  BodyTracker tracker(BodyFraming::chunked, 0);
  const auto p = tracker.feed(body);
  CHECK(p.status == BodyStatus::done);
  CHECK(p.consumed == body.size());
}

TEST_CASE("until-close bodies never end by themselves") {
  BodyTracker tracker(BodyFraming::until_close, 0);
  const auto p = tracker.feed("anything at all");
  CHECK(p.status == BodyStatus::more);
  CHECK(p.consumed == 15);
}
