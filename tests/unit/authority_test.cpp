#include "policy/authority.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string_view>

using namespace trproxy::policy;

TEST_CASE("authority parsing") {
  CHECK(parse_authority("a.example:443", 80, true)->port == 443);
  CHECK(parse_authority("a.example", 80, false)->port == 80);
  CHECK_FALSE(parse_authority("a.example", 80, true));
  CHECK_FALSE(parse_authority("a.example:", 80, false));
  CHECK_FALSE(parse_authority(":443", 80, false));
  CHECK_FALSE(parse_authority("[::1", 80, false));
  CHECK_FALSE(parse_authority("[zz::1]:1", 80, false));
  CHECK(parse_authority("[::1]", 80, false)->host == "::1");
}

TEST_CASE("numeric host spellings other than a canonical dotted quad are refused (issue 19.5)") {
  struct Row {
    const char* host;
    bool ambiguous;
  };
  for (const auto& row : {Row{"2130706433", true},
                          Row{"127.1", true},
                          Row{"127.0.1", true},
                          Row{"0177.0.0.1", true},
                          Row{"0x7f.0.0.1", true},
                          Row{"0x7f000001", true},
                          Row{"0X7F000001", true},
                          Row{"1.2.3.04", true},
                          Row{"256.1.1.1", true},
                          Row{"1.2.3.4.5", true},
                          Row{"10.0.0.1.", true},
                          Row{"example.0x10", true},
                          Row{"example.123", true},
                          Row{"0x", true},
                          Row{"1..2.3", true},
                          Row{"127.0.0.1", false},
                          Row{"0.0.0.0", false},
                          Row{"255.255.255.255", false},
                          Row{"1.2.3.4.example", false},
                          Row{"0x10.example.com", false},
                          Row{"login.live.com", false},
                          Row{"example.0xg", false},
                          Row{"123a", false}}) {
    INFO(row.host);
    CHECK(is_ambiguous_numeric_host(row.host) == row.ambiguous);
    CHECK(parse_authority(row.host, 80, false).has_value() == !row.ambiguous);
    CHECK(parse_authority(std::string(row.host) + ":443", 80, true).has_value() == !row.ambiguous);
  }
  CHECK(parse_authority("[::ffff:127.0.0.1]:443", 80, true).has_value());  // IPv6 literals are not numbers
}

TEST_CASE("same_host: case-insensitive, one trailing dot ignored on either side") {
  struct Row {
    std::string_view a;
    std::string_view b;
    bool same;
  };
  const Row rows[] = {
      {"login.microsoftonline.com", "login.microsoftonline.com", true},
      {"LOGIN.MicrosoftOnline.com", "login.microsoftonline.com", true},
      {"login.microsoftonline.com.", "login.microsoftonline.com", true},
      {"login.microsoftonline.com", "LOGIN.microsoftonline.COM.", true},
      {"login.live.com.", "login.live.com.", true},
      {"login.live.com..", "login.live.com", false},  // only one dot is ignored
      {"login.live.com", "login.live.co", false},
      {"login.live.com", "xlogin.live.com", false},
      {"sub.login.live.com", "login.live.com", false},  // no subdomain matching
      {"login-live.com", "login_live.com", false},
      {"[::1]", "::1", false},  // callers compare hosts, not authorities
      {"::1", "::1", true},
      {"", "", true},
      {"a", "", false},
      {"\xc3\x84", "\xc3\xa4", false},  // ASCII folding only
      {"@", "`", false},                // 0x40 and 0x60 differ by the case bit but are not letters
      {"[", "{", false},
  };
  for (const auto& row : rows) {
    INFO(row.a << " vs " << row.b);
    CHECK(same_host(row.a, row.b) == row.same);
    CHECK(same_host(row.b, row.a) == row.same);
  }
}

TEST_CASE("host_header_names: the Host field names the host, on an allowed port") {
  struct Row {
    std::string_view host_header;
    std::string_view host;
    std::uint16_t default_port;
    std::uint16_t connect_port;
    bool names;
  };
  const Row rows[] = {
      {"login.microsoftonline.com", "login.microsoftonline.com", 443, 443, true},
      {"LOGIN.microsoftonline.com.", "login.microsoftonline.com", 443, 443, true},
      {"login.microsoftonline.com", "login.microsoftonline.com.", 443, 443, true},
      {"login.microsoftonline.com:443", "login.microsoftonline.com", 443, 443, true},
      {"login.microsoftonline.com:8443", "login.microsoftonline.com", 443, 8443, true},  // the CONNECT port
      {"login.microsoftonline.com:443", "login.microsoftonline.com", 443, 8443, true},   // the default port
      {"login.microsoftonline.com:8443", "login.microsoftonline.com", 443, 443, false},
      {"login.microsoftonline.com:80", "login.microsoftonline.com", 443, 443, false},
      {"login.live.com", "login.microsoftonline.com", 443, 443, false},
      {"login.microsoftonline.com.evil", "login.microsoftonline.com", 443, 443, false},
      {"[::1]:443", "::1", 443, 443, true},
      {"[::1]", "::1", 443, 443, true},
      {"user@login.live.com", "login.live.com", 443, 443, false},
      {"login.live.com:", "login.live.com", 443, 443, false},
      {"login.live.com:0443x", "login.live.com", 443, 443, false},
      {"", "login.live.com", 443, 443, false},
  };
  for (const auto& row : rows) {
    INFO(row.host_header << " names " << row.host << " (" << row.default_port << ", " << row.connect_port << ")");
    CHECK(host_header_names(row.host_header, row.host, row.default_port, row.connect_port) == row.names);
  }
}

TEST_CASE("format_authority: the one spelling the proxy writes, IPv6 literals in brackets") {
  CHECK(format_authority("login.microsoftonline.com", 443) == "login.microsoftonline.com:443");
  CHECK(format_authority("127.0.0.1", 8080) == "127.0.0.1:8080");
  CHECK(format_authority("2001:db8::1", 443) == "[2001:db8::1]:443");
  // What parse_authority reads back is what was written.
  const auto written = format_authority("2001:db8::1", 8443);  // parse_authority returns views into it
  const auto back = parse_authority(written, 0, true);
  REQUIRE(back);
  CHECK(back->host == "2001:db8::1");
  CHECK(back->port == 8443);
}
