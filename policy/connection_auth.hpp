#pragma once
// Connection-oriented authentication (NTLM, Negotiate): its handshake authenticates the
// connection, not the request, so an upstream connection that carried it must never serve
// another client. Pure: works on the bytes of a response head the scanner has validated.

#include <string_view>

namespace trproxy::policy {

// True when one WWW-Authenticate value offers NTLM or Negotiate (any case, among other challenges).
bool offers_connection_auth(std::string_view challenges);

// True when a response head (status line through the empty line, already validated) has a
// WWW-Authenticate field offering NTLM or Negotiate: a 401 challenge, or a final response
// carrying a Negotiate token.
bool requests_connection_auth(std::string_view head);

// True when a request head (request line through the empty line, already validated) carries
// Authorization with the NTLM or Negotiate scheme: its connection is authenticated whatever
// the answer says (a Negotiate token may be accepted without any WWW-Authenticate).
bool sends_connection_auth(std::string_view head);

}  // namespace trproxy::policy
