#pragma once
// The choices about an upstream connection that the engine makes around its I/O: where a
// destination is reached (upstream.resolve, an address literal, or a name to resolve), what a
// failed dial is logged as, which requests may be sent twice, and what becomes of an upstream
// connection after an exchange. Pure; tests/unit/decision_test.cpp has their tables.

#include "config/config.hpp"
#include "policy/action.hpp"
#include "policy/http_head.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trproxy::policy {

// Where a destination is reached. `host`/`port` are what a socket connects to or a parent proxy
// is asked for: an upstream.resolve entry's address and port, else the destination itself.
// `address` is known without DNS (an upstream.resolve entry or an IP literal); a name has none.
struct UpstreamRoute {
  std::string host;
  std::uint16_t port = 0;
  std::optional<config::IpAddress> address;
  bool operator_chosen = false;  // from upstream.resolve: exempt from egress.deny
};
UpstreamRoute upstream_route(const config::Config& config, std::string_view host, std::uint16_t port);

// Which path a dial served, for the action its failure is logged as.
enum class DialPurpose : std::uint8_t { tunnel, intercept, forward };

// A dial's failure as the client is answered: an egress refusal (403) of a tunnel or forward is
// `deny`; anything else is logged under the path that dialled (an intercept's always is).
Refusal dial_refusal(Refusal failure, DialPurpose purpose);

// GET, HEAD, OPTIONS, TRACE, PUT and DELETE may be sent twice (RFC 9110 9.2.2); only without a
// body, since a body has been streamed and is gone.
bool replayable_request(std::string_view method, BodyFraming framing);

// What becomes of an intercepted connection's upstream after an exchange.
enum class UpstreamFate : std::uint8_t {
  close,  // not reusable (framing, unread bytes, Connection: close)
  pool,   // back to the worker's pool for any client
  keep,   // kept for this client only: NTLM/Negotiate authenticated the connection
};
struct ExchangeEnd {
  bool upstream_reusable = false;
  bool pinned = false;            // an earlier exchange on this connection authenticated it
  bool challenged = false;        // this answer carried an NTLM/Negotiate challenge
  bool sent_credentials = false;  // this request carried Authorization: NTLM/Negotiate
};
UpstreamFate upstream_fate(const ExchangeEnd& end);

}  // namespace trproxy::policy
