#pragma once
// What a CONNECT becomes once the client's first bytes and the dialled destination are known:
// the plan from decide_after_hello with the sign-in address guard merged in (one decision, not
// a plan the session overwrites), how long to wait for those bytes, and whether a running tunnel
// survives a reload. Pure; tests/unit/decision_test.cpp has the tables.

#include "policy/connect_decision.hpp"
#include "policy/sign_in_guard.hpp"

#include <chrono>
#include <string_view>

namespace trproxy::policy {

struct TunnelDecision {
  HelloPlan plan;
  GuardDecision guard;  // not_guarded when no upstream was dialled (an intercepted host)
};

// `destination`: where the dialled upstream reaches (nullptr: nothing was dialled, the target
// is intercepted). A guard refusal closes the connection; `logged` tunnels and is reported.
TunnelDecision decide_tunnel(const Policy& policy, const ConnectTarget& target, const HelloFacts& hello,
                             const GuardDestination* destination, const ProfileRules& profile);

// How long the proxy waits for a ClientHello: a sign-in CONNECT must send one (head_timeout),
// anything else may be a server-speaks-first protocol (ordinary_peek_ms, then relayed as is).
std::chrono::milliseconds peek_time(HostClass host_class, std::chrono::milliseconds head_timeout);

// The action a CONNECT is logged as when the client closes before sending anything.
Action closed_before_hello(HostClass host_class);

// While the policy still lets a running tunnel run (DESIGN: a tunnel whose host becomes blocked
// or intercepted by a reload is closed): both the CONNECT host and the SNI are judged.
bool tunnel_still_allowed(const Policy& policy, std::string_view connect_host, std::string_view sni,
                          const ProfileRules& profile);

}  // namespace trproxy::policy
