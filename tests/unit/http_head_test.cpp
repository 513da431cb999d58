#include "policy/http_head.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using namespace trproxy::policy;

namespace {

struct HeadScan {
  ScanStatus status;
  HeadError error;
  RequestHead head;
  std::string text;  // the scanned bytes: the head's spans resolve against them

  [[nodiscard]] std::string_view view(Span span) const { return span.in(text); }
  [[nodiscard]] Authority authority() const { return head.target_authority(text); }
};

HeadScan scan_head(const std::string& input, ScanLimits limits = {}) {
  RequestScanner scanner(limits);
  HeadScan out{};
  out.text = input;
  out.status = scanner.scan(out.text, out.head);
  out.error = scanner.error();
  return out;
}

HeadError head_error_of(const std::string& text) {
  const auto s = scan_head(text);
  INFO(text);
  CHECK(s.status == ScanStatus::error);
  return s.error;
}

const std::string browser_get =
    "GET /common/oauth2/v2.0/authorize?client_id=abc HTTP/1.1\r\n"
    "Host: login.microsoftonline.com\r\n"
    "User-Agent: Mozilla/5.0\r\n"
    "Accept: text/html\r\n"
    "Cookie: a=b; c=d\r\n"
    "\r\n";

}  // namespace

TEST_CASE("a plain origin-form GET") {
  const auto s = scan_head(browser_get);
  REQUIRE(s.status == ScanStatus::complete);
  CHECK(s.view(s.head.method) == "GET");
  CHECK(s.view(s.head.target) == "/common/oauth2/v2.0/authorize?client_id=abc");
  CHECK(s.head.form == TargetForm::origin);
  CHECK(s.view(s.head.host) == "login.microsoftonline.com");
  CHECK(s.head.end == browser_get.size());
  CHECK(s.head.framing == BodyFraming::none);
  CHECK(s.head.keep_alive);
  CHECK(s.head.field_count == 4);
}

TEST_CASE("CONNECT authority-form") {
  const auto s =
      scan_head("CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n");
  REQUIRE(s.status == ScanStatus::complete);
  CHECK(s.head.method_connect);
  CHECK_FALSE(s.head.method_head);
  CHECK(s.head.form == TargetForm::authority);
  CHECK(s.authority().host == "login.microsoftonline.com");
  CHECK(s.authority().port == 443);
  const auto v6 = scan_head("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
  REQUIRE(v6.status == ScanStatus::complete);
  CHECK(v6.authority().host == "::1");
  CHECK(v6.authority().ip_literal_v6);
  CHECK(head_error_of("CONNECT login.microsoftonline.com HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  CHECK(head_error_of("CONNECT user@login.microsoftonline.com:443 HTTP/1.1\r\nHost: x\r\n\r\n") ==
        HeadError::bad_target);
  CHECK(head_error_of("CONNECT /path HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  // HTTP/1.0 CONNECT without Host is fine.
  CHECK(scan_head("CONNECT example.com:443 HTTP/1.0\r\n\r\n").status == ScanStatus::complete);
}

TEST_CASE("absolute-form targets are split") {
  const auto s = scan_head("GET http://Login.Live.com/ppsecure/post.srf?x=1 HTTP/1.1\r\nHost: login.live.com\r\n\r\n");
  REQUIRE(s.status == ScanStatus::complete);
  CHECK(s.head.form == TargetForm::absolute);
  CHECK(s.authority().host == "Login.Live.com");
  CHECK(s.authority().port == 80);
  CHECK(s.view(s.head.target_path) == "/ppsecure/post.srf?x=1");
  const auto bare = scan_head("GET http://example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  REQUIRE(bare.status == ScanStatus::complete);
  CHECK(bare.authority().port == 8080);
  CHECK(bare.head.target_path.empty());
  CHECK(head_error_of("GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  CHECK(head_error_of("GET http://a@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  CHECK(head_error_of("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  CHECK(head_error_of("GET * HTTP/1.1\r\nHost: x\r\n\r\n") == HeadError::bad_target);
  CHECK(scan_head("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").head.form == TargetForm::asterisk);
}

TEST_CASE("framing: Content-Length and chunked") {
  const auto cl = scan_head("POST /t HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
  REQUIRE(cl.status == ScanStatus::complete);
  CHECK(cl.head.framing == BodyFraming::content_length);
  CHECK(cl.head.content_length == 42);
  const auto same_twice = scan_head("POST /t HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  CHECK(same_twice.status == ScanStatus::complete);
  const auto chunked = scan_head("POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n");
  REQUIRE(chunked.status == ScanStatus::complete);
  CHECK(chunked.head.framing == BodyFraming::chunked);
}

TEST_CASE("ambiguous framing is refused") {
  const std::string start = "POST /t HTTP/1.1\r\nHost: a\r\n";
  CHECK(head_error_of(start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        HeadError::content_length_with_transfer_encoding);
  CHECK(head_error_of(start + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") ==
        HeadError::content_length_with_transfer_encoding);
  CHECK(head_error_of(start + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n") ==
        HeadError::content_length_with_transfer_encoding);
  CHECK(head_error_of(start + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n") ==
        HeadError::conflicting_content_length);
  for (const char* bad : {"+5", "-5", "5,5", "5 5", "0x5", "", "5a", "99999999999999999999", "1e3", " 5 x"}) {
    CHECK(head_error_of(start + "Content-Length: " + bad + "\r\n\r\n") == HeadError::bad_content_length);
  }
  for (const char* bad : {"gzip", "chunked, gzip", "gzip, chunked", "chunked, chunked", "identity", "xchunked"}) {
    CHECK(head_error_of(start + "Transfer-Encoding: " + bad + "\r\n\r\n") == HeadError::bad_transfer_encoding);
  }
  CHECK(head_error_of(start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        HeadError::bad_transfer_encoding);
  CHECK(head_error_of("POST /t HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == HeadError::bad_transfer_encoding);
}

TEST_CASE("malformed lines are refused") {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\n";
  CHECK(head_error_of(start + "X-A: 1\r\n folded\r\n\r\n") == HeadError::obs_fold);
  CHECK(head_error_of(start + "X-A: 1\r\n\tfolded\r\n\r\n") == HeadError::obs_fold);
  CHECK(head_error_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == HeadError::obs_fold);
  CHECK(head_error_of(start + "X-A : 1\r\n\r\n") == HeadError::space_before_colon);
  CHECK(head_error_of(start + "X-A\t: 1\r\n\r\n") == HeadError::space_before_colon);
  CHECK(head_error_of(start + "X-A: 1\n\r\n") == HeadError::bare_lf);
  CHECK(head_error_of(start + "X-A: 1\r\n\n") == HeadError::bare_lf);
  CHECK(head_error_of("GET / HTTP/1.1\nHost: a\n\n") == HeadError::bare_lf);
  CHECK(head_error_of(start + "X-A: 1\rX-B: 2\r\n\r\n") == HeadError::bare_cr);
  CHECK(head_error_of(start + "X-A: 1\r\r\n\r\n") == HeadError::bare_cr);
  CHECK(head_error_of(start + std::string("X-A: 1\0x\r\n\r\n", 13)) == HeadError::control_char);
  CHECK(head_error_of(start + std::string("X-\0A: 1\r\n\r\n", 11)) == HeadError::control_char);
  CHECK(head_error_of(start + "X-A: \x01\r\n\r\n") == HeadError::control_char);
  CHECK(head_error_of(start + "X-A: a\x7f\r\n\r\n") == HeadError::control_char);
  CHECK(head_error_of(start + "X(A): 1\r\n\r\n") == HeadError::bad_field_name);
  CHECK(head_error_of(start + ": 1\r\n\r\n") == HeadError::bad_field_name);
  CHECK(head_error_of(start + "NoColon\r\n\r\n") == HeadError::bad_field_name);
  CHECK(head_error_of(start + "X\xc3\xa9: 1\r\n\r\n") == HeadError::bad_field_name);
  CHECK(head_error_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == HeadError::bad_request_line);
  CHECK(head_error_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == HeadError::bad_request_line);
  CHECK(head_error_of("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") == HeadError::bad_target);
  CHECK(head_error_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == HeadError::bad_version);
  CHECK(head_error_of("GET / HTTX/1.1\r\nHost: a\r\n\r\n") == HeadError::bad_request_line);
  CHECK(head_error_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == HeadError::bad_request_line);
}

TEST_CASE("Host rules") {
  CHECK(head_error_of("GET / HTTP/1.1\r\n\r\n") == HeadError::missing_host);
  CHECK(head_error_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == HeadError::multiple_host);
  CHECK(head_error_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == HeadError::bad_host);
  CHECK(head_error_of("GET / HTTP/1.1\r\nHost: l\xc3\xb6gin.live.com\r\n\r\n") == HeadError::bad_host);
  CHECK(head_error_of("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n") == HeadError::bad_host);
  CHECK(head_error_of("GET / HTTP/1.1\r\nHost: \r\n\r\n") == HeadError::bad_host);
  CHECK(scan_head("GET / HTTP/1.0\r\n\r\n").status == ScanStatus::complete);
}

TEST_CASE("size limits give 431") {
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  const auto s = scan_head(big);
  CHECK(s.status == ScanStatus::error);
  CHECK(s.error == HeadError::head_too_large);
  CHECK(http_status(s.error) == 431);
  // An unterminated head that reaches the limit is too large too.
  const auto open = scan_head("GET / HTTP/1.1\r\nX: " + std::string(64 * 1024, 'a'));
  CHECK(open.error == HeadError::head_too_large);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 200; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  const auto m = scan_head(many + "\r\n");
  CHECK(m.error == HeadError::too_many_fields);
  CHECK(http_status(m.error) == 431);
}

TEST_CASE("connection semantics") {
  CHECK_FALSE(scan_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").head.keep_alive);
  CHECK(scan_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
  CHECK_FALSE(scan_head("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  CHECK(scan_head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
  CHECK(scan_head("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
            .head.expect_continue);
  CHECK(scan_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").head.upgrade);
}

TEST_CASE("a Connection token naming a tenant-restriction field is refused (issue 19.2)") {
  const std::string get = "GET / HTTP/1.1\r\nHost: a\r\n";
  struct Row {
    const char* connection;
    bool refused;
  };
  for (const auto& row :
       {Row{"keep-alive, sec-Restrict-Tenant-Access-Policy", true}, Row{"Restrict-Access-To-Tenants", true},
        Row{"close,restrict-access-context", true}, Row{"  SEC_RESTRICT_TENANT_ACCESS_POLICY\t", true},
        Row{"keep-alive, x-sec-restrict-tenant-access-policy", false}, Row{"restrict-access-context-x", false},
        Row{"keep-alive, Upgrade", false}, Row{"", false}}) {
    INFO(row.connection);
    const auto s = scan_head(get + "Connection: " + row.connection + "\r\n\r\n");
    CHECK((s.status == ScanStatus::error) == row.refused);
    CHECK((s.error == HeadError::connection_nominates_tenant_field) == row.refused);
    if (row.refused) CHECK(http_status(s.error) == 400);
  }
}

TEST_CASE("tenant-restriction and proxy lines are recorded, in any case and count") {
  const std::string text =
      "GET / HTTP/1.1\r\nHost: a\r\n"
      "restrict-access-to-tenants: evil.com\r\n"
      "X-Keep: 1\r\n"
      "RESTRICT-ACCESS-CONTEXT: x\r\n"
      "Sec-Restrict-Tenant-Access-Policy: restrict-msa\r\n"
      "sec-restrict-tenant-access-policy: a:b\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic abc\r\n"
      "\r\n";
  const auto s = scan_head(text);
  REQUIRE(s.status == ScanStatus::complete);
  REQUIRE(s.head.removable_count == 6);
  CHECK(s.head.removable[0].role == LineRole::tenant_restriction);
  CHECK(text.substr(s.head.removable[0].begin, s.head.removable[0].end - s.head.removable[0].begin) ==
        "restrict-access-to-tenants: evil.com\r\n");
  CHECK(s.head.removable[4].role == LineRole::proxy_hop);
  CHECK(s.head.removable[5].role == LineRole::proxy_hop);
  std::string flood = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 65; ++i) flood += "Restrict-Access-Context: x\r\n";
  CHECK(head_error_of(flood + "\r\n") == HeadError::too_many_removable_fields);
}

TEST_CASE("a head split at every byte boundary scans the same") {
  const std::string text =
      "POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\n"
      "Restrict-Access-Context: spoof\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 11\r\n\r\nhello=world";
  const auto whole = scan_head(text);
  REQUIRE(whole.status == ScanStatus::complete);
  for (std::size_t split = 0; split < text.size(); ++split) {
    RequestScanner scanner;
    RequestHead head;
    std::string buffer;
    ScanStatus status = ScanStatus::need_more;
    // Feed in two pieces, then byte by byte, to exercise the incremental blank-line search.
    buffer.append(text, 0, split);
    status = scanner.scan(buffer, head);
    for (std::size_t i = split; i < text.size() && status == ScanStatus::need_more; ++i) {
      buffer.push_back(text[i]);
      status = scanner.scan(buffer, head);
    }
    INFO("split at " << split);
    REQUIRE(status == ScanStatus::complete);
    CHECK(head.end == whole.head.end);
    CHECK(head.content_length == 11);
    CHECK(head.removable_count == 1);
  }
}

TEST_CASE("pipelined requests scan one after another") {
  const std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string second = "\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string both = first + second;
  RequestScanner scanner;
  RequestHead head;
  REQUIRE(scanner.scan(both, head) == ScanStatus::complete);
  CHECK(head.end == first.size());
  CHECK(head.target.in(both) == "/a");
  scanner.reset();
  const auto rest = std::string_view(both).substr(head.end);
  REQUIRE(scanner.scan(rest, head) == ScanStatus::complete);
  CHECK(head.begin == 2);  // the stray CRLF is skipped
  CHECK(head.target.in(rest) == "/b");
}

TEST_CASE("response heads: status and framing") {
  auto scan_response = [](const std::string& text, bool head_request = false) {
    ResponseScanner scanner;
    ResponseHead head;
    const auto status = scanner.scan(text, head_request, head);
    REQUIRE(status == ScanStatus::complete);
    return head;
  };
  const auto ok = scan_response("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
  CHECK(ok.status == 200);
  CHECK(ok.framing == BodyFraming::content_length);
  CHECK(ok.content_length == 12);
  CHECK(scan_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").framing == BodyFraming::chunked);
  CHECK(scan_response("HTTP/1.1 200 OK\r\n\r\n").framing == BodyFraming::until_close);
  CHECK(scan_response("HTTP/1.1 204 No Content\r\n\r\n").framing == BodyFraming::none);
  CHECK(scan_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n").framing == BodyFraming::none);
  CHECK(scan_response("HTTP/1.1 100 Continue\r\n\r\n").framing == BodyFraming::none);
  CHECK(scan_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).framing == BodyFraming::none);
  CHECK(scan_response("HTTP/1.1 302\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n").status == 302);
  CHECK_FALSE(scan_response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n").keep_alive);
  ResponseScanner scanner;
  ResponseHead head;
  CHECK(scanner.scan("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", false, head) ==
        ScanStatus::error);
  ResponseScanner bad;
  CHECK(bad.scan("HTTP/1.1 2x0 OK\r\n\r\n", false, head) == ScanStatus::error);
}

TEST_CASE("method flags are exact-case") {
  CHECK(scan_head("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").head.method_head);
  CHECK_FALSE(scan_head("head / HTTP/1.1\r\nHost: a\r\n\r\n").head.method_head);
  CHECK_FALSE(scan_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").head.method_head);
  CHECK_FALSE(scan_head("HEADX / HTTP/1.1\r\nHost: a\r\n\r\n").head.method_head);
  // A lower-case "connect" is an ordinary method, so an authority-form target is refused.
  const auto lower = scan_head("connect a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(lower.status == ScanStatus::error);
  CHECK(lower.error == HeadError::bad_target);
}

TEST_CASE("a head holds offsets only: it resolves against a moved or overwritten copy") {
  // B3: the exchange consumes the head and reuses the buffer while the head is still in use.
  const std::string text =
      "POST http://Login.Live.com:8080/ppsecure/post.srf?x=1 HTTP/1.1\r\nHost: login.live.com:8080\r\n"
      "Content-Length: 4\r\n\r\nHEAD";
  std::string buffer = text;
  RequestScanner scanner;
  RequestHead head;
  REQUIRE(scanner.scan(buffer, head) == ScanStatus::complete);

  // The original storage is overwritten and released; nothing may still point into it.
  std::fill(buffer.begin(), buffer.end(), 'X');
  buffer.clear();
  buffer.shrink_to_fit();
  CHECK(head.method_head == false);
  CHECK(head.framing == BodyFraming::content_length);

  // The same bytes at a new address: every span resolves against the new copy.
  const std::string moved = text;
  CHECK(head.method.in(moved) == "POST");
  CHECK(head.target.in(moved) == "http://Login.Live.com:8080/ppsecure/post.srf?x=1");
  CHECK(head.target_path.in(moved) == "/ppsecure/post.srf?x=1");
  CHECK(head.host.in(moved) == "login.live.com:8080");
  const auto authority = head.target_authority(moved);
  CHECK(authority.host == "Login.Live.com");
  CHECK(authority.port == 8080);
  CHECK(authority.host.data() == moved.data() + head.authority_host.pos);

  // A different head in the same place resolves to different bytes: spans carry no content.
  std::string overwritten = text;
  overwritten.replace(0, 4, "PUT ");
  CHECK(head.method.in(overwritten) == "PUT ");
}

TEST_CASE("underscore spellings of the tenant-restriction names are tenant-restriction lines") {
  // Some servers fold '_' into '-', so these would arrive as the real header (B7).
  struct Row {
    std::string_view name;
    bool tenant_restriction;
  };
  const Row rows[] = {
      {"Restrict-Access-To-Tenants", true},
      {"Restrict_Access_To_Tenants", true},
      {"restrict_access_to_tenants", true},
      {"RESTRICT_ACCESS-TO_TENANTS", true},
      {"Restrict-Access_To-Tenants", true},
      {"Restrict_Access_Context", true},
      {"restrict-access_context", true},
      {"RESTRICT_ACCESS_CONTEXT", true},
      {"sec_Restrict_Tenant_Access_Policy", true},
      {"SEC_RESTRICT_TENANT_ACCESS_POLICY", true},
      {"sec-restrict_tenant-access_policy", true},
      {"Sec_Restrict-Tenant-Access-Policy", true},
      // Not the names: an underscore where a letter belongs, other separators, other lengths.
      {"Restrict_Access_Contex_", false},
      {"Restrict__Access_Context", false},
      {"RestrictAccessContext", false},
      {"Restrict.Access.Context", false},
      {"Restrict~Access~Context", false},
      {"X-Restrict_Access_Context", false},
      {"sec_Restrict_Tenant_Access_Polic", false},
      // Only the tenant-restriction names are folded; other fields pass as sent.
      {"Proxy_Connection", false},
      {"Proxy_Authorization", false},
      {"Content_Length", false},
  };
  for (const auto& row : rows) {
    const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(row.name) + ": evil.example\r\n\r\n";
    const auto s = scan_head(text);
    INFO(row.name);
    REQUIRE(s.status == ScanStatus::complete);
    if (row.tenant_restriction) {
      REQUIRE(s.head.removable_count == 1);
      CHECK(s.head.removable[0].role == LineRole::tenant_restriction);
      CHECK(s.head.removable[0].begin == text.find(row.name));
      CHECK(s.head.removable[0].end == text.size() - 2);
    } else {
      CHECK(s.head.removable_count == 0);
      CHECK(s.head.framing == BodyFraming::none);
    }
  }
}
