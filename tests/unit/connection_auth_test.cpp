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
