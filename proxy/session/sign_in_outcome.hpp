#pragma once
// The bookkeeping around one request to a sign-in or app host, intercepted or plain (DESIGN.md,
// "Profiles and report mode", "Sign-in outcomes", "Tenant control for other SaaS apps"): the
// profile, the target tenant or the app on the access line and in the counters before the
// exchange, what the response said after it.

#include "policy/policy.hpp"
#include "policy/response_watch.hpp"
#include "proxy/session/client_connection.hpp"

namespace trproxy::proxy {

// The counters one request counts in: its profile's sign-in cells, or its app's.
struct OutcomeCells {
  ProfileCells* sign_in = nullptr;
  AppCells* app = nullptr;
  policy::HostClass host_class = policy::HostClass::auth;
  policy::AppId app_id = policy::no_app;
};

// Counts the request for its profile (and app) and writes profile, enforcement and the target
// tenant (auth hosts) or the app into `line`, whose target is set.
OutcomeCells start_sign_in(ClientConnection& connection, const policy::Policy& policy,
                           const policy::ProfileRules& profile, policy::HostClass host_class, policy::AppId app,
                           RequestLog& line);

// The watch for the response: the sign-in block codes, or the app's documented block text.
policy::ResponseWatch response_watch_for(ClientConnection& connection, const policy::Policy& policy,
                                         const OutcomeCells& cells);

// After the exchange: Restrict-Access-Confirm counted, a block code or an app's block response
// as the line's outcome (counted per code or app and profile), the target tenant recorded for
// /tenants. `policy` is the one start_sign_in was given; `upstream_status` is the upstream's
// final status (0: none).
void record_outcome(ClientConnection& connection, const policy::Policy& policy, const policy::ResponseWatch& watch,
                    const OutcomeCells& cells, const policy::ProfileRules& profile, int upstream_status,
                    RequestLog& line);

}  // namespace trproxy::proxy
