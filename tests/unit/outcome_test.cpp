// Sign-in outcomes (DESIGN.md, "Sign-in outcomes"): the target-tenant rule, the block-code
// matcher fed in every split, the response facts, the body watch through gzip, deflate and br
// with its limits, and the /tenants table.

#include "policy/block_codes.hpp"
#include "policy/body_framing.hpp"
#include "policy/response_watch.hpp"
#include "policy/target_tenant.hpp"
#include "proxy/observe/sign_in_stats.hpp"

#include <brotli/encode.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <random>
#include <string>

using namespace trproxy;
using policy::BlockCode;
using policy::HostClass;

namespace {

std::string zlib_encode(const std::string& text, int window_bits) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
std::string gzip(const std::string& text) {
  return zlib_encode(text, 15 + 16);
}
std::string deflate_zlib(const std::string& text) {
  return zlib_encode(text, 15);
}
std::string deflate_raw(const std::string& text) {
  return zlib_encode(text, -15);
}

std::string brotli(const std::string& text, int window = 22) {
  std::size_t size = BrotliEncoderMaxCompressedSize(text.size()) + 64;
  std::string out(size, '\0');
  REQUIRE(BrotliEncoderCompress(9, window, BROTLI_MODE_TEXT, text.size(),
                                reinterpret_cast<const std::uint8_t*>(text.data()), &size,
                                reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_TRUE);
  out.resize(size);
  return out;
}

std::optional<BlockCode> match_in_pieces(HostClass host_class, const std::string& text, std::size_t piece) {
  policy::BlockCodeMatcher matcher(host_class);
  for (std::size_t pos = 0; pos < text.size(); pos += piece) matcher.feed(std::string_view(text).substr(pos, piece));
  matcher.finish();
  return matcher.found();
}

// Feeds `body` (already encoded) to a watch in pieces; returns what it found.
std::optional<BlockCode> watch_body(HostClass host_class, policy::ContentCoding coding, const std::string& body,
                                    std::size_t piece, policy::DecodeBudget& budget, policy::WatchLimits limits = {}) {
  policy::BodyWatch watch(host_class, coding, budget, limits);
  for (std::size_t pos = 0; pos < body.size(); pos += piece) watch.payload(std::string_view(body).substr(pos, piece));
  watch.finish();
  return watch.found();
}

// A sign-in error page the size of a real one, with `code` somewhere in the middle.
std::string page_with(const std::string& code, std::size_t before = 20000) {
  std::string page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>";
  std::mt19937 random(7);
  while (page.size() < before) page += "<div class=\"x" + std::to_string(random() % 100000) + "\">text</div>";
  page += "<span>" + code + ": A tenant restrictions policy added to this request does not allow access.</span>";
  return page + "</body></html>";
}

}  // namespace

TEST_CASE("target_tenant: the first path segment when it names a tenant") {
  struct Row {
    const char* target;
    const char* tenant;
  };
  const Row rows[] = {
      {"/common/oauth2/v2.0/authorize?client_id=x", "common"},
      {"/organizations/oauth2/token", "organizations"},
      {"/Consumers/", "consumers"},
      {"/contoso.onmicrosoft.com/oauth2/authorize", "contoso.onmicrosoft.com"},
      {"/Contoso.COM/saml2", "contoso.com"},
      {"/contoso.com./oauth2", "contoso.com"},
      {"/AAAABBBB-0000-CCCC-1111-DDDD2222EEEE/oauth2/v2.0/token", "aaaabbbb-0000-cccc-1111-dddd2222eeee"},
      {"/aaaabbbb-0000-cccc-1111-dddd2222eeee", "aaaabbbb-0000-cccc-1111-dddd2222eeee"},
      {"/contoso.com?x=1", "contoso.com"},
      {"https://login.microsoftonline.com/fabrikam.com/oauth2", "fabrikam.com"},
      {"http://login.microsoftonline.com/common", "common"},
      {"/", ""},
      {"", ""},
      {"/oauth2/authorize", ""},
      {"/favicon.ico", ""},
      {"/login.srf", ""},
      {"/appverify", ""},
      {"/common2/x", ""},
      {"/aaaabbbb-0000-cccc-1111-dddd2222eeeg/x", ""},  // not a GUID
      {"/1.2.3.4/x", ""},                               // an address, not a domain
      {"/con%74oso.com/x", ""},                         // percent-encoding is not decoded
      {"/contoso..com/x", ""},
      {"//common/x", ""},
      {"https://login.microsoftonline.com", ""},
      {"*", ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.target);
    CHECK(policy::target_tenant(row.target) == row.tenant);
  }
}

TEST_CASE("block codes are matched whole, per host class, across any split") {
  struct Row {
    HostClass host_class;
    std::string text;
    std::optional<BlockCode> expected;
  };
  const Row rows[] = {
      {HostClass::auth, "AADSTS500021: Access to 'x' is blocked", BlockCode::aadsts500021},
      {HostClass::auth, "error_description\":\"AADSTS5000211: A tenant", BlockCode::aadsts5000211},
      {HostClass::auth, "AADSTS5000211", BlockCode::aadsts5000211},  // the whole text
      {HostClass::auth, "AADSTS500021", BlockCode::aadsts500021},
      {HostClass::auth, "x AADSTS1000108.", BlockCode::aadsts1000108},
      {HostClass::auth, "AADSTS50002111", std::nullopt},  // a longer code
      {HostClass::auth, "AADSTS5000210", std::nullopt},
      {HostClass::auth, "XAADSTS500021", std::nullopt},  // inside a word
      {HostClass::auth, "AADSTS50002", std::nullopt},
      {HostClass::auth, "AADSTS50058: not signed in", std::nullopt},
      {HostClass::auth, "80045C4D", std::nullopt},      // an MSA code on an auth host
      {HostClass::auth, "aadsts500021", std::nullopt},  // Microsoft writes AADSTS
      {HostClass::msa, "Error: 80045C4D", BlockCode::msa_80045c4d},
      {HostClass::msa, "code=0x80045c54;", BlockCode::msa_80045c54},
      {HostClass::msa, "80045c4d", BlockCode::msa_80045c4d},
      {HostClass::msa, "180045C4D", std::nullopt},
      {HostClass::msa, "80045C4DA", std::nullopt},
      {HostClass::msa, "Y0x80045C4D", std::nullopt},
      {HostClass::msa, "AADSTS500021", std::nullopt},  // an auth code on an MSA host
      {HostClass::other, "AADSTS500021", std::nullopt},
      {HostClass::auth, "AADSTS5000211 then AADSTS500021", BlockCode::aadsts5000211},  // the first one
      {HostClass::auth, "AADSTS50002 AADSTS500021 ", BlockCode::aadsts500021},
  };
  for (const auto& row : rows) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, std::size_t{7},
                              std::size_t{13}, std::size_t{4096}}) {
      CAPTURE(row.text, piece);
      CHECK(match_in_pieces(row.host_class, row.text, piece) == row.expected);
    }
  }
}

TEST_CASE("a code straddling the matcher's copy window and every offset is found once") {
  for (const std::string code : {"AADSTS500021", "AADSTS5000211", "AADSTS1000108"}) {
    for (std::size_t offset = 4070; offset < 4110; ++offset) {
      std::string text(offset, 'a');
      text += ' ' + code + '<' + std::string(100, 'b');
      CAPTURE(code, offset);
      CHECK(match_in_pieces(HostClass::auth, text, 100000) == match_in_pieces(HostClass::auth, text, 1));
      CHECK(match_in_pieces(HostClass::auth, text, 4096).has_value());
      CHECK(policy::to_string(*match_in_pieces(HostClass::auth, text, 4095)) == code);
    }
  }
}

TEST_CASE("response facts: Restrict-Access-Confirm, HTML/JSON, the content coding") {
  struct Row {
    const char* head;
    bool confirm;
    policy::BodyText text;
    policy::ContentCoding coding;
  };
  using policy::BodyText;
  using policy::ContentCoding;
  const Row rows[] = {
      {"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n", false, BodyText::html,
       ContentCoding::identity},
      {"HTTP/1.1 400 Bad\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\r\n", false, BodyText::json,
       ContentCoding::gzip},
      {"HTTP/1.1 302 Found\r\nRestrict-Access-Confirm: 1\r\nLocation: /x\r\n\r\n", true, BodyText::other,
       ContentCoding::identity},
      {"HTTP/1.1 200 OK\r\nContent-Type: application/problem+json\r\nContent-Encoding: br\r\n\r\n", false,
       BodyText::json, ContentCoding::br},
      {"HTTP/1.1 200 OK\r\nContent-Type: TEXT/HTML\r\nContent-Encoding: Deflate\r\n\r\n", false, BodyText::html,
       ContentCoding::deflate},
      {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip, br\r\n\r\n", false, BodyText::html,
       ContentCoding::other},
      {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Encoding: br\r\n\r\n", false,
       BodyText::html, ContentCoding::other},
      {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: zstd\r\n\r\n", false, BodyText::other,
       ContentCoding::other},
      {"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n", false, BodyText::other, ContentCoding::identity},
  };
  for (const auto& row : rows) {
    CAPTURE(row.head);
    const auto facts = policy::read_response_facts(row.head);
    CHECK(facts.restrict_access_confirm == row.confirm);
    CHECK(facts.text == row.text);
    CHECK(facts.coding == row.coding);
  }
}

TEST_CASE("the body watch undoes gzip, deflate and br and finds the code in any piece size") {
  policy::DecodeBudget budget(64 * 1024 * 1024);
  using policy::ContentCoding;
  for (const std::string code : {"AADSTS500021", "AADSTS5000211", "AADSTS1000108"}) {
    const auto page = page_with(code);
    const auto expected = match_in_pieces(HostClass::auth, page, 1);
    REQUIRE(expected);
    for (std::size_t piece : {std::size_t{1}, std::size_t{17}, std::size_t{1000}, std::size_t{65536}}) {
      CAPTURE(code, piece);
      CHECK(watch_body(HostClass::auth, ContentCoding::identity, page, piece, budget) == expected);
      CHECK(watch_body(HostClass::auth, ContentCoding::gzip, gzip(page), piece, budget) == expected);
      CHECK(watch_body(HostClass::auth, ContentCoding::deflate, deflate_zlib(page), piece, budget) == expected);
      CHECK(watch_body(HostClass::auth, ContentCoding::br, brotli(page), piece, budget) == expected);
    }
    // Raw deflate (no zlib header), as some servers send "deflate".
    CHECK(watch_body(HostClass::auth, ContentCoding::deflate, deflate_raw(page), 65536, budget) == expected);
  }
  CHECK(watch_body(HostClass::msa, ContentCoding::br, brotli(page_with("80045C4D")), 100, budget) ==
        BlockCode::msa_80045c4d);
  CHECK(budget.used() == 0);  // every decoder gave its memory back
}

TEST_CASE("the body watch is bounded: 64 KiB of text, encoded input, decoder memory, bad data") {
  policy::DecodeBudget budget(64 * 1024 * 1024);
  using policy::ContentCoding;
  // A code past the first 64 KiB of text is not searched for, however the body is encoded.
  const auto late = page_with("AADSTS500021", 70 * 1024);
  CHECK_FALSE(watch_body(HostClass::auth, ContentCoding::identity, late, 4096, budget));
  CHECK_FALSE(watch_body(HostClass::auth, ContentCoding::gzip, gzip(late), 4096, budget));
  CHECK(watch_body(HostClass::auth, ContentCoding::identity, page_with("AADSTS500021", 60 * 1024), 4096, budget));

  // A decompression bomb: 1 GiB of zeros would follow, but the watch stops at 64 KiB of text.
  const std::string zeros(16 * 1024 * 1024, '\0');
  const auto bomb = gzip(zeros);
  policy::BodyWatch watch(HostClass::auth, ContentCoding::gzip, budget);
  for (int i = 0; i < 64; ++i) watch.payload(bomb);  // far more input than one stream
  CHECK(watch.stopped() == policy::BodyWatch::Stop::text_limit);
  watch.finish();

  // Encoded input that yields nothing (a stream of empty stored blocks) ends at the input limit.
  policy::WatchLimits small;
  small.encoded_bytes = 1000;
  policy::BodyWatch idle(HostClass::auth, ContentCoding::deflate, budget, small);
  idle.payload(std::string("\x78\x01", 2));
  const std::string empty_block("\x00\x00\x00\xff\xff", 5);
  for (int i = 0; i < 400; ++i) idle.payload(empty_block);
  CHECK(idle.stopped() == policy::BodyWatch::Stop::encoded_limit);

  // A window bigger than the decoder may hold: br with a 16 MiB window under a 1 MiB cap.
  policy::WatchLimits tight;
  tight.decoder_bytes = 1024 * 1024;
  std::string large(3 * 1024 * 1024, 'x');
  large.replace(100, 12, "AADSTS500021");
  policy::BodyWatch capped(HostClass::auth, ContentCoding::br, budget, tight);
  capped.payload(brotli(large, 24));
  CHECK(capped.stopped() == policy::BodyWatch::Stop::no_memory);
  // The shared budget: nothing left, nothing decoded, nothing else harmed.
  policy::DecodeBudget empty(0);
  policy::BodyWatch starved(HostClass::auth, ContentCoding::gzip, empty);
  starved.payload(gzip(page_with("AADSTS500021")));
  CHECK_FALSE(starved.found());
  CHECK(empty.used() == 0);

  // Not what the header said: stops, finds nothing.
  CHECK_FALSE(watch_body(HostClass::auth, ContentCoding::gzip, "AADSTS500021 in plain text", 7, budget));
  CHECK_FALSE(watch_body(HostClass::auth, ContentCoding::br, "AADSTS500021 in plain text", 7, budget));
  CHECK_FALSE(watch_body(HostClass::auth, ContentCoding::other, page_with("AADSTS500021"), 7, budget));
  CHECK(budget.used() == 0);
}

TEST_CASE("BodyTracker hands the observer the payload without chunk framing, once") {
  struct Collect : policy::PayloadObserver {
    std::string seen;
    void payload(std::string_view bytes) override { seen.append(bytes); }
  };
  const std::string wire = "5\r\nAADST\r\n7;ext=1\r\nS500021\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t piece = 1; piece <= wire.size(); ++piece) {
    CAPTURE(piece);
    policy::BodyTracker tracker(policy::BodyFraming::chunked, 0);
    Collect collect;
    std::string pending;
    std::size_t fed = 0;
    while (!tracker.done() && fed < wire.size()) {
      pending += wire.substr(fed, piece);
      fed += piece;
      const auto progress = tracker.feed(pending, &collect);
      REQUIRE(progress.status != policy::BodyStatus::error);
      pending.erase(0, progress.consumed);
    }
    CHECK(tracker.done());
    CHECK(collect.seen == "AADSTS500021");
  }
}

TEST_CASE("the tenant table: most recent first, bounded, merged across workers") {
  using Clock = std::chrono::system_clock;
  const auto t0 = Clock::from_time_t(1'800'000'000);
  proxy::TenantTable table(3);
  table.record("contoso.com", "default", t0, false);
  table.record("common", "pilot", t0 + std::chrono::seconds(1), false);
  table.record("contoso.com", "pilot", t0 + std::chrono::seconds(2), true);
  table.record("fabrikam.com", "default", t0 + std::chrono::seconds(3), false);
  table.record("northwind.com", "default", t0 + std::chrono::seconds(4), false);  // evicts "common"
  const auto rows = table.snapshot();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].tenant == "northwind.com");
  CHECK(rows[1].tenant == "fabrikam.com");
  CHECK(rows[2].tenant == "contoso.com");
  CHECK(rows[2].requests == 2);
  CHECK(rows[2].blocked == 1);
  CHECK(rows[2].profiles == std::vector<std::string>{"default", "pilot"});

  proxy::TenantTable other;
  other.record("contoso.com", "macs", t0 + std::chrono::seconds(9), true);
  other.record("common", "default", t0, false);
  const auto json = proxy::tenants_json({table.snapshot(), other.snapshot()});
  CHECK(json ==
        "{\"tenants\": [\n"
        "  {\"tenant\": \"contoso.com\", \"requests\": 3, \"blocked\": 2, \"last_seen\": \"2027-01-15T08:00:09Z\", "
        "\"profiles\": [\"default\", \"pilot\", \"macs\"]},\n"
        "  {\"tenant\": \"northwind.com\", \"requests\": 1, \"blocked\": 0, \"last_seen\": \"2027-01-15T08:00:04Z\", "
        "\"profiles\": [\"default\"]},\n"
        "  {\"tenant\": \"fabrikam.com\", \"requests\": 1, \"blocked\": 0, \"last_seen\": \"2027-01-15T08:00:03Z\", "
        "\"profiles\": [\"default\"]},\n"
        "  {\"tenant\": \"common\", \"requests\": 1, \"blocked\": 0, \"last_seen\": \"2027-01-15T08:00:00Z\", "
        "\"profiles\": [\"default\"]}\n"
        "]}\n");
  CHECK(proxy::tenants_json({}) == "{\"tenants\": []}\n");
  // One escaper for every JSON the proxy writes (the access log's): whatever bytes a name holds,
  // the document stays valid JSON (control bytes, DEL and bytes >= 0x80 as \u00XX).
  proxy::TenantTable odd;
  odd.record("a\"b\\c\x01\x7f\xc3\xa9", "default", t0, false);
  CHECK_THAT(proxy::tenants_json({odd.snapshot()}),
             Catch::Contains("\"tenant\": \"a\\\"b\\\\c\\u0001\\u007f\\u00c3\\u00a9\""));
  CHECK(proxy::tenants_json({table.snapshot(), other.snapshot()}, 1).find("northwind") == std::string::npos);

  proxy::TenantTable full;
  for (int i = 0; i < 10'050; ++i) full.record("t" + std::to_string(i) + ".example.com", "default", t0, false);
  CHECK(full.size() == proxy::TenantTable::capacity);
}
