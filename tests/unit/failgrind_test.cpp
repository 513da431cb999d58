// Failgrind (after Beast's test::fail_count/grind): every error a request head, a response head
// or a body can report, fed at every split point, in two pieces and byte by byte. However the
// bytes arrive, the result is the same error: never complete or done, never another error.

#include "grind.hpp"
#include "policy/body_framing.hpp"
#include "policy/http_head.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace trproxy::policy;
using trproxy::test::feed_like_a_pump;
using trproxy::test::grind_head;
using trproxy::test::Then;

namespace {

struct BadHead {
  std::string text;
  HeadError error;
  ScanLimits limits{};
};

const std::string host = "Host: a\r\n";
const std::string get = "GET / HTTP/1.1\r\n" + host;
const std::string post = "POST /t HTTP/1.1\r\n" + host;
const ScanLimits small_head{64, 128};
const ScanLimits few_fields{64 * 1024, 3};

std::string repeated(const std::string& line, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += line;
  return out;
}

std::vector<BadHead> bad_requests() {
  return {
      {"GET  / HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_request_line},
      {"G(T / HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_request_line},
      {"GET / HTTX/1.1\r\n" + host + "\r\n", HeadError::bad_request_line},
      {"GET / HTTP/1.1 \r\n" + host + "\r\n", HeadError::bad_request_line},
      {"GET / HTTP/2.0\r\n" + host + "\r\n", HeadError::bad_version},
      {"GET /\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_target},
      {"CONNECT a.example HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_target},
      {"GET ftp://a.example/ HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_target},
      {"GET * HTTP/1.1\r\n" + host + "\r\n", HeadError::bad_target},
      {get + "X(A): 1\r\n\r\n", HeadError::bad_field_name},
      {get + ": 1\r\n\r\n", HeadError::bad_field_name},
      {get + "NoColon\r\n\r\n", HeadError::bad_field_name},
      {get + "X-A : 1\r\n\r\n", HeadError::space_before_colon},
      {get + "X-A: 1\r\n folded\r\n\r\n", HeadError::obs_fold},
      {"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", HeadError::obs_fold},
      {get + "X-A: 1\rX-B: 2\r\n\r\n", HeadError::bare_cr},
      {"GET / HTTP/1.1\r\r\n" + host + "\r\n", HeadError::bare_cr},
      {get + "X-A: 1\n\r\n", HeadError::bare_lf},
      {get + "X-A: 1\r\n\n", HeadError::bare_lf},
      {"GET / HTTP/1.1\nHost: a\n\n", HeadError::bare_lf},
      {get + std::string("X-A: 1\0x\r\n\r\n", 13), HeadError::control_char},
      {get + "X-A: \x01\r\n\r\n", HeadError::control_char},
      {get + "X-A: a\x7f\r\n\r\n", HeadError::control_char},
      {post + "Content-Length: +5\r\n\r\n", HeadError::bad_content_length},
      {post + "Content-Length: 5,5\r\n\r\n", HeadError::bad_content_length},
      {post + "Content-Length: 99999999999999999999\r\n\r\n", HeadError::bad_content_length},
      {post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", HeadError::conflicting_content_length},
      {post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       HeadError::content_length_with_transfer_encoding},
      {post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       HeadError::content_length_with_transfer_encoding},
      {post + "Transfer-Encoding: gzip, chunked\r\n\r\n", HeadError::bad_transfer_encoding},
      {post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::bad_transfer_encoding},
      {"POST /t HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::bad_transfer_encoding},
      {"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", HeadError::missing_host},
      {get + "host: b\r\n\r\n", HeadError::multiple_host},
      {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HeadError::bad_host},
      {"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", HeadError::bad_host},
      {get + repeated("Restrict-Access-Context: x\r\n", 65) + "\r\n", HeadError::too_many_removable_fields},
      {get + "Connection: keep-alive, Restrict_Access_Context\r\n\r\n", HeadError::connection_nominates_tenant_field},
      {get + "X-Big: " + std::string(100, 'a') + "\r\n\r\n", HeadError::head_too_large, small_head},
      {get + "X-Open: " + std::string(100, 'a'), HeadError::head_too_large, small_head},
      {get + repeated("X-A: 1\r\n", 3) + "\r\n", HeadError::too_many_fields, few_fields},
  };
}

std::vector<BadHead> bad_responses() {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  return {
      {"HTTP/1.1 2x0 OK\r\n\r\n", HeadError::bad_status_line},
      {"HTTP/1.1 099 Low\r\n\r\n", HeadError::bad_status_line},
      {"HTTP/1.1 200OK\r\n\r\n", HeadError::bad_status_line},
      {"HTTP/2.0 200 OK\r\n\r\n", HeadError::bad_status_line},
      {"HTTP/1.1  200 OK\r\n\r\n", HeadError::bad_status_line},
      {ok + "X(A): 1\r\n\r\n", HeadError::bad_field_name},
      {ok + "X-A : 1\r\n\r\n", HeadError::space_before_colon},
      {ok + "X-A: 1\r\n folded\r\n\r\n", HeadError::obs_fold},
      {ok + "X-A: 1\rX-B: 2\r\n\r\n", HeadError::bare_cr},
      {"HTTP/1.1 200 OK\rX\r\n\r\n", HeadError::bare_cr},
      {ok + "X-A: 1\n\r\n", HeadError::bare_lf},
      {"HTTP/1.1 200 OK\n\r\n", HeadError::bare_lf},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", HeadError::control_char},
      {ok + std::string("X-A: 1\0x\r\n\r\n", 13), HeadError::control_char},
      {ok + "Content-Length: 0x5\r\n\r\n", HeadError::bad_content_length},
      {ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", HeadError::conflicting_content_length},
      {ok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       HeadError::content_length_with_transfer_encoding},
      {ok + "X-Big: " + std::string(100, 'a') + "\r\n\r\n", HeadError::head_too_large, small_head},
      {ok + repeated("X-A: 1\r\n", 4) + "\r\n", HeadError::too_many_fields, few_fields},
  };
}

struct BadBody {
  std::string body;
  std::size_t valid;  // bytes before the malformed line: all that may ever be consumed
  BodyError error;
  std::size_t max_trailer_bytes = 8192;
};

std::vector<BadBody> bad_bodies() {
  return {
      {"0x5\r\nhello\r\n0\r\n\r\n", 0, BodyError::bad_chunk_size},
      {"+5\r\nhello\r\n0\r\n\r\n", 0, BodyError::bad_chunk_size},
      {"\r\n", 0, BodyError::bad_chunk_size},
      {"1000000000000000\r\n", 0, BodyError::bad_chunk_size},
      {"5\r\nhello\r\n5 \r\nhello\r\n0\r\n\r\n", 10, BodyError::bad_chunk_size},
      {"5\r\nhello\r\n5;a\x01\r\nhello\r\n", 10, BodyError::bad_chunk_extension},
      {"5;" + std::string(5000, 'e') + "\r\nhello\r\n", 0, BodyError::bad_chunk_extension},
      {"5\nhello\r\n", 0, BodyError::bad_chunk_line_end},
      {"5\rhello\r\n", 0, BodyError::bad_chunk_line_end},
      {"5;a\nb\r\nhello\r\n", 0, BodyError::bad_chunk_line_end},
      {"5\r\nhelloX\r\n", 8, BodyError::bad_chunk_line_end},
      {"5\r\nhello\rX", 8, BodyError::bad_chunk_line_end},
      {"5\r\nhello\n0\r\n\r\n", 8, BodyError::bad_chunk_line_end},
      {"5\r\nhello\r\n0\r\nX-Ok: 1\r\nbad trailer line\r\n\r\n", 22, BodyError::bad_trailer},
      {"0\r\nX : 1\r\n\r\n", 3, BodyError::bad_trailer},
      {"0\r\nX: 1\n\r\n", 3, BodyError::bad_trailer},
      {"0\r\n\n", 3, BodyError::bad_trailer},
      {"5\r\nhello\r\n0\r\nX-Ok: 1\r\nRestrict_Access_Context: x\r\n\r\n", 22, BodyError::tenant_field_in_trailer},
      {"0\r\nsec-restrict-tenant-access-policy: t:p\r\n\r\n", 3, BodyError::tenant_field_in_trailer},
      {"0\r\n" + std::string(5000, 'a') + "\r\n\r\n", 3, BodyError::trailer_too_large},
      {"0\r\n" + repeated("X-Trailer: 0123456789\r\n", 5) + "\r\n", 3 + 4 * 23, BodyError::trailer_too_large, 100},
  };
}

// The last enumerator of each error enum; describe() has no case past it (checked below).
constexpr auto last_head_error = HeadError::too_many_fields;
constexpr auto last_body_error = BodyError::trailer_too_large;

// Every split point of a short message. A message past max_line_bytes is long only to reach a
// size limit, and trickling it byte by byte from every offset is quadratic, so there every
// offset near the start, the fault and the end is ground, and every 61st in between.
std::vector<std::size_t> split_points(std::size_t size, std::size_t fault) {
  std::vector<std::size_t> out;
  constexpr std::size_t short_message = 512;
  constexpr std::size_t near = 64;
  const auto close_to = [&](std::size_t at, std::size_t mark) { return at + near >= mark && at <= mark + near; };
  for (std::size_t at = 0; at <= size; ++at) {
    if (size <= short_message || close_to(at, 0) || close_to(at, fault) || close_to(at, size) || at % 61 == 0) {
      out.push_back(at);
    }
  }
  return out;
}

template <class Rows>
std::set<int> errors_in(const Rows& rows) {
  std::set<int> out;
  for (const auto& row : rows) out.insert(static_cast<int>(row.error));
  return out;
}

// Grinds one bad head through a fresh scanner per split and delivery; `scan_with` makes the
// scanner call for one row.
template <class Scanner, class ScanOnce>
void failgrind_head(const BadHead& row, ScanOnce&& scan_once) {
  for (const auto then : {Then::in_one_piece, Then::byte_by_byte}) {
    for (std::size_t split = 0; split <= row.text.size(); ++split) {
      Scanner scanner(row.limits);
      const auto statuses =
          grind_head(row.text, split, then, [&](std::string_view b) { return scan_once(scanner, b); });
      INFO("split " << split << (then == Then::byte_by_byte ? ", then byte by byte" : ", then the rest"));
      REQUIRE(statuses.back() == ScanStatus::error);
      CHECK(scanner.error() == row.error);
      // A failed scanner stays failed, whatever it is shown next.
      CHECK(scan_once(scanner, row.text) == ScanStatus::error);
      CHECK(scanner.error() == row.error);
    }
  }
}

}  // namespace

TEST_CASE("failgrind tables cover every error") {
  CHECK(describe(static_cast<HeadError>(static_cast<int>(last_head_error) + 1)) == "malformed request");
  CHECK(describe(static_cast<BodyError>(static_cast<int>(last_body_error) + 1)) == "malformed body");
  auto heads = errors_in(bad_requests());
  heads.merge(errors_in(bad_responses()));
  for (int e = static_cast<int>(HeadError::none) + 1; e <= static_cast<int>(last_head_error); ++e) {
    INFO(describe(static_cast<HeadError>(e)));
    CHECK(heads.count(e) == 1);
  }
  const auto bodies = errors_in(bad_bodies());
  for (int e = static_cast<int>(BodyError::none) + 1; e <= static_cast<int>(last_body_error); ++e) {
    INFO(describe(static_cast<BodyError>(e)));
    CHECK(bodies.count(e) == 1);
  }
  // Errors one side cannot reach: a response has no Host, no removable lines and no
  // request-line, and its Transfer-Encoding is never refused (it means read until close).
  const auto response_errors = errors_in(bad_responses());
  for (const auto e :
       {HeadError::bad_request_line, HeadError::bad_version, HeadError::bad_target, HeadError::bad_transfer_encoding,
        HeadError::missing_host, HeadError::multiple_host, HeadError::bad_host, HeadError::too_many_removable_fields,
        HeadError::connection_nominates_tenant_field}) {
    CHECK(response_errors.count(static_cast<int>(e)) == 0);
  }
}

TEST_CASE("failgrind: every bad request head gives its error at every split") {
  for (const auto& row : bad_requests()) {
    INFO(describe(row.error) << ": " << row.text.substr(0, 80));
    RequestHead head;
    failgrind_head<RequestScanner>(row,
                                   [&](RequestScanner& scanner, std::string_view b) { return scanner.scan(b, head); });
  }
}

TEST_CASE("failgrind: every bad response head gives its error at every split") {
  for (const auto& row : bad_responses()) {
    INFO(describe(row.error) << ": " << row.text.substr(0, 80));
    ResponseHead head;
    failgrind_head<ResponseScanner>(
        row, [&](ResponseScanner& scanner, std::string_view b) { return scanner.scan(b, false, head); });
  }
}

TEST_CASE("failgrind: every bad chunked body gives its error at every split, consuming only valid bytes") {
  for (const auto& row : bad_bodies()) {
    INFO(describe(row.error) << ": " << row.body.substr(0, 80));
    BodyTracker whole(BodyFraming::chunked, 0, row.max_trailer_bytes);
    const auto progress = whole.feed(row.body);
    CHECK(progress.status == BodyStatus::error);
    CHECK(progress.consumed == row.valid);
    CHECK(whole.error() == row.error);
    for (const auto then : {Then::in_one_piece, Then::byte_by_byte}) {
      for (const auto split : split_points(row.body.size(), row.valid)) {
        BodyTracker tracker(BodyFraming::chunked, 0, row.max_trailer_bytes);
        const auto delivered = feed_like_a_pump(tracker, row.body, split, then);
        INFO("split " << split << (then == Then::byte_by_byte ? ", then byte by byte" : ", then the rest"));
        REQUIRE(delivered.last.status == BodyStatus::error);
        CHECK(delivered.consumed == row.valid);
        CHECK(tracker.error() == row.error);
        // A failed tracker stays failed and takes nothing more.
        const auto again = tracker.feed(row.body);
        CHECK(again.status == BodyStatus::error);
        CHECK(again.consumed == 0);
      }
    }
  }
}
