#pragma once
// The bookkeeping around one request to a sign-in host, intercepted or plain (DESIGN.md,
// "Profiles and report mode", "Sign-in outcomes"): the profile and target tenant on the access
// line and in the counters before the exchange, what the response said after it.

#include "policy/policy.hpp"
#include "policy/response_watch.hpp"
#include "proxy/session/client_connection.hpp"

namespace trproxy::proxy {

// Counts the request for its profile and writes profile, enforcement and (auth hosts) the
// target tenant into `line`, whose target is set. Returns the profile's counters.
ProfileCells& start_sign_in(ClientConnection& connection, const policy::Policy& policy,
                            const policy::ProfileRules& profile, policy::HostClass host_class, RequestLog& line);

// After the exchange: Restrict-Access-Confirm counted, a block code as the line's outcome
// (counted per code and profile), the target tenant recorded for /tenants.
void record_outcome(ClientConnection& connection, const policy::ResponseWatch& watch, ProfileCells& cells,
                    const policy::ProfileRules& profile, RequestLog& line);

}  // namespace trproxy::proxy
