// The access-log record and its two formats (DESIGN.md, "Logs"): logfmt with exact quoting and
// JSON with numbers as numbers, same keys in the same order, optional keys only when set.

#include "proxy/observe/access_record.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;
using namespace trproxy::proxy;

namespace {

constexpr auto text = config::LogFormat::text;
constexpr auto json = config::LogFormat::json;
constexpr auto ms_2_5 = std::chrono::microseconds(2500);

RequestLog intercepted() {
  RequestLog r;
  r.action = policy::Action::intercept;
  r.method = "GET";
  r.host = "login.microsoftonline.com";
  r.target = "/common/oauth2/authorize?code=SECRET#frag";
  r.status = 200;
  r.bytes_in = 151;
  r.bytes_out = 333;
  r.sni = "login.microsoftonline.com";
  r.upstream = "20.190.128.1:443";
  r.tls = "TLSv1.3";
  return r;
}

}  // namespace

TEST_CASE("logfmt values are quoted exactly when they hold a space, quote, equals or control byte") {
  CHECK(logfmt_value("/common/oauth2") == "/common/oauth2");
  CHECK(logfmt_value("a\\b") == "a\\b");  // a backslash alone needs no quotes
  CHECK(logfmt_value("a b") == "\"a b\"");
  CHECK(logfmt_value("a=b") == "\"a=b\"");
  CHECK(logfmt_value("a\"b") == "\"a\\\"b\"");
  CHECK(logfmt_value("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(logfmt_value(std::string_view("a\nb\x7f", 4)) == "\"a\\u000ab\\u007f\"");
  CHECK(logfmt_value("\xc3\xa9") == "\"\\u00c3\\u00a9\"");
  CHECK(logfmt_value("") == "\"\"");
}

TEST_CASE("json strings escape quotes, backslashes and every byte outside printable ASCII") {
  CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_string(std::string_view("\t\0", 2)) == "\"\\u0009\\u0000\"");
  CHECK(json_string("/p") == "\"/p\"");
}

TEST_CASE("the path is logged without query string or fragment, absolute-form or origin-form") {
  CHECK(loggable_path("/a/b?code=SECRET") == "/a/b");
  CHECK(loggable_path("/a#x") == "/a");
  CHECK(loggable_path("http://example.com/x/y?q=1") == "/x/y");
  CHECK(loggable_path("http://example.com?q=1") == "/");
}

TEST_CASE("a text line starts with time= and carries every field in DESIGN order") {
  const auto line = format_access_line(intercepted(), "127.0.0.1:51144", "2026-11-23T13:11:15.684Z", ms_2_5, text);
  CHECK(line ==
        "time=2026-11-23T13:11:15.684Z client=127.0.0.1:51144 action=intercept method=GET "
        "host=login.microsoftonline.com path=/common/oauth2/authorize status=200 bytes_in=151 bytes_out=333 "
        "duration_ms=2.500 entry=proxy sni=login.microsoftonline.com upstream=20.190.128.1:443 tls=TLSv1.3");
  CHECK(line.find("SECRET") == std::string::npos);
}

TEST_CASE("a json line has the same keys, numbers as numbers") {
  auto r = intercepted();
  r.profile = "pilot";
  r.enforcement = "report";
  r.tenant = "contoso.com";
  r.outcome = "AADSTS500021";
  r.reason = "a \"quoted\" reason";
  const auto line = format_access_line(r, "[::1]:5", "2026-11-23T13:11:15.684Z", ms_2_5, json);
  CHECK(
      line ==
      R"({"time":"2026-11-23T13:11:15.684Z","client":"[::1]:5","action":"intercept","method":"GET",)"
      R"("host":"login.microsoftonline.com","path":"/common/oauth2/authorize","status":200,"bytes_in":151,)"
      R"("bytes_out":333,"duration_ms":2.500,"entry":"proxy","sni":"login.microsoftonline.com","upstream":"20.190.128.1:443",)"
      R"("tls":"TLSv1.3","profile":"pilot","enforcement":"report","tenant":"contoso.com",)"
      R"("outcome":"AADSTS500021","reason":"a \"quoted\" reason"})");
}

TEST_CASE("no status is logged when the client got no HTTP response (a failed handshake)") {
  RequestLog r;
  r.action = policy::Action::intercept;
  r.method = "CONNECT";
  r.host = "login.live.com";
  r.bytes_in = 517;
  r.reason = "client TLS handshake failed: unknown_ca for login.live.com (tlsv1 alert unknown ca)";
  const auto line = format_access_line(r, "127.0.0.1:1", "T", ms_2_5, text);
  CHECK(line ==
        "time=T client=127.0.0.1:1 action=intercept method=CONNECT host=login.live.com path=- bytes_in=517 "
        "bytes_out=0 duration_ms=2.500 entry=proxy "
        "reason=\"client TLS handshake failed: unknown_ca for login.live.com (tlsv1 alert unknown ca)\"");
  CHECK(format_access_line(r, "c", "T", ms_2_5, json).find("\"status\"") == std::string::npos);
}

TEST_CASE("a refused connection without a request writes - for what it never sent") {
  RequestLog r;
  r.status = 403;
  r.reason = "client address not allowed";
  CHECK(format_access_line(r, "10.9.9.9:1", "T", {}, text) ==
        "time=T client=10.9.9.9:1 action=deny method=- host=- path=- status=403 bytes_in=0 bytes_out=0 "
        "duration_ms=0.000 entry=proxy reason=\"client address not allowed\"");
}

TEST_CASE("log timestamps are RFC 3339 UTC with milliseconds") {
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795958475684));
  CHECK(log_timestamp(when) == "2026-11-29T13:21:15.684Z");
}
