#include "policy/parent_proxy.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy::policy;

TEST_CASE("the CONNECT request to a parent proxy") {
  CHECK(parent_connect_request("login.microsoftonline.com", 443) ==
        "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n");
  CHECK(parent_connect_request("2001:db8::1", 8443) ==
        "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
}

TEST_CASE("a parent proxy's answer to CONNECT") {
  struct Row {
    std::string input;
    ParentReplyStatus status;
    int code;
    const char* text;
    std::size_t length;
  };
  const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
  const std::string denied =
      "HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\n";
  const Row rows[] = {
      {ok, ParentReplyStatus::complete, 200, "200 Connection established", ok.size()},
      {ok + "\x16\x03\x01 server bytes", ParentReplyStatus::complete, 200, "200 Connection established", ok.size()},
      {"HTTP/1.0 200\r\n\r\n", ParentReplyStatus::complete, 200, "200", 16},
      {denied + "abc", ParentReplyStatus::complete, 403, "403 Forbidden", denied.size()},
      {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", ParentReplyStatus::complete,
       407, "407 Proxy Authentication Required", 73},
      {"HTTP/1.1 502 Bad\x01Gateway\r\n\r\n", ParentReplyStatus::complete, 502, "502 Bad?Gateway", 28},
      {"HTTP/1.1 200 Connection established\r\n", ParentReplyStatus::need_more, 0, "", 0},
      {"HTTP/1.1 20", ParentReplyStatus::need_more, 0, "", 0},
      {"HTT", ParentReplyStatus::need_more, 0, "", 0},
      {"", ParentReplyStatus::need_more, 0, "", 0},
      {"SSH-2.0-OpenSSH\r\n", ParentReplyStatus::invalid, 0, "", 0},
      {"HTTP/2 200\r\n\r\n", ParentReplyStatus::invalid, 0, "", 0},
      {"HTTP/1.1 2000 OK\r\n\r\n", ParentReplyStatus::invalid, 0, "", 0},
      {"HTTP/1.1 20x OK\r\n\r\n", ParentReplyStatus::invalid, 0, "", 0},
      {"HTTP/1.1 200 " + std::string(parent_reply_max_bytes, 'x'), ParentReplyStatus::invalid, 0, "", 0},
  };
  for (const auto& row : rows) {
    INFO(row.input.substr(0, 60));
    const auto reply = parse_parent_reply(row.input);
    CHECK(reply.status == row.status);
    if (row.status != ParentReplyStatus::complete) continue;
    CHECK(reply.code == row.code);
    CHECK(reply.status_text == row.text);
    CHECK(reply.length == row.length);
    CHECK(reply.established() == (row.code / 100 == 2));
  }
  CHECK(parent_refusal_reason(parse_parent_reply(denied)) == "parent proxy refused CONNECT: 403 Forbidden");
  CHECK(parent_refusal_reason(parse_parent_reply("SSH-2.0\r\n")) ==
        "parent proxy sent an unreadable answer to CONNECT");
  const auto long_reason = parse_parent_reply("HTTP/1.1 403 " + std::string(300, 'r') + "\r\n\r\n");
  CHECK(long_reason.status_text.size() == 100);
}
