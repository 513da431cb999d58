#include "policy/connection_auth.hpp"

#include <catch2/catch.hpp>

#include <string>

using trproxy::policy::offers_connection_auth;
using trproxy::policy::requests_connection_auth;

namespace {

bool head_with(const std::string& fields) {
  return requests_connection_auth("HTTP/1.1 401 Unauthorized\r\n" + fields + "Content-Length: 0\r\n\r\n");
}

}  // namespace

TEST_CASE("connection auth: an NTLM or Negotiate challenge in a response head") {
  CHECK(head_with("WWW-Authenticate: NTLM\r\n"));
  CHECK(head_with("www-authenticate: negotiate\r\n"));
  CHECK(head_with("WWW-Authenticate:Negotiate oYH1MIHyoAMKAQ==\r\n"));
  CHECK(head_with("WWW-Authenticate: Basic realm=\"corp\", NTLM\r\n"));
  CHECK(head_with("WWW-Authenticate: Basic realm=\"corp\"\r\nWWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n"));
  CHECK_FALSE(head_with("WWW-Authenticate: Basic realm=\"corp\"\r\n"));
  CHECK_FALSE(head_with("WWW-Authenticate: Bearer realm=\"NTLM\"\r\n"));
  CHECK_FALSE(head_with("WWW-Authenticate: NTLMv3\r\n"));
  CHECK_FALSE(head_with("X-WWW-Authenticate: NTLM\r\n"));
  CHECK_FALSE(head_with("Proxy-Authenticate: NTLM\r\n"));  // the proxy hop, not the server's
  CHECK_FALSE(head_with("X-Note: WWW-Authenticate: NTLM\r\n"));
  CHECK_FALSE(head_with(""));
  // The status line is no field, whatever its reason phrase says.
  CHECK_FALSE(requests_connection_auth("HTTP/1.1 200 WWW-Authenticate: NTLM\r\n\r\n"));
  // Mutual authentication: the final 200 carries a Negotiate token.
  CHECK(requests_connection_auth("HTTP/1.1 200 OK\r\nWWW-Authenticate: Negotiate oRQwEqADCgEA\r\n\r\n"));
}

TEST_CASE("connection auth: WWW-Authenticate values") {
  CHECK(offers_connection_auth("Negotiate, NTLM"));
  CHECK(offers_connection_auth("  ntlm"));
  CHECK_FALSE(offers_connection_auth(""));
  CHECK_FALSE(offers_connection_auth("Digest realm=\"x\", qop=\"auth\""));
}

TEST_CASE("connection auth: a request that sends NTLM or Negotiate credentials (issue 19.6)") {
  using trproxy::policy::sends_connection_auth;
  struct Row {
    const char* fields;
    bool pins;
  };
  for (const auto& row :
       {Row{"Authorization: Negotiate YIIB\r\n", true}, Row{"authorization: ntlm TlRMTVNTUAABAAAA\r\n", true},
        Row{"Authorization:Negotiate\r\n", true}, Row{"Authorization: Basic dXNlcjpwYXNz\r\n", false},
        Row{"Authorization: Bearer NTLM\r\n", false}, Row{"Authorization: NTLMv2 x\r\n", false},
        Row{"Proxy-Authorization: NTLM x\r\n", false},  // the proxy hop's, stripped
        Row{"X-Authorization: Negotiate x\r\n", false}, Row{"", false}}) {
    INFO(row.fields);
    CHECK(sends_connection_auth(std::string("GET / HTTP/1.1\r\nHost: a\r\n") + row.fields + "\r\n") == row.pins);
  }
  CHECK_FALSE(sends_connection_auth("GET /Authorization:NTLM HTTP/1.1\r\nHost: a\r\n\r\n"));
}
