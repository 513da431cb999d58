// The upstream decisions as tables: the route to a destination, a failed dial's action,
// replayable requests, and what becomes of an upstream connection after an exchange.

#include "policy/upstream_decision.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;
using policy::Action;
using policy::BodyFraming;
using policy::DialPurpose;
using policy::UpstreamFate;

TEST_CASE("upstream route: upstream.resolve entries, address literals and names") {
  const auto config =
      test::load_yaml(std::string(test::v2_yaml) + "upstream:\n  resolve:\n    login.live.com: \"127.0.0.1:8443\"\n");
  struct Row {
    const char* host;
    std::uint16_t port;
    const char* route_host;
    std::uint16_t route_port;
    const char* address;  // nullptr: a name, resolved later
    bool operator_chosen;
  };
  const Row rows[] = {
      {"login.live.com", 443, "127.0.0.1", 8443, "127.0.0.1", true},
      {"www.example.com", 443, "www.example.com", 443, nullptr, false},
      {"93.184.216.34", 8443, "93.184.216.34", 8443, "93.184.216.34", false},
      {"2001:db8::1", 443, "2001:db8::1", 443, "2001:db8::1", false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.host);
    const auto route = policy::upstream_route(config, row.host, row.port);
    CHECK(route.host == row.route_host);
    CHECK(route.port == row.route_port);
    CHECK(route.address == (row.address ? config::parse_ip(row.address) : std::nullopt));
    CHECK(route.operator_chosen == row.operator_chosen);
  }
}

TEST_CASE("dial refusal: egress refusals are deny, other failures keep the path's action") {
  struct Row {
    int status;
    DialPurpose purpose;
    Action expected;
  };
  const Row rows[] = {
      {403, DialPurpose::tunnel, Action::deny},         {502, DialPurpose::tunnel, Action::tunnel},
      {504, DialPurpose::tunnel, Action::tunnel},       {403, DialPurpose::forward, Action::deny},
      {502, DialPurpose::forward, Action::forward},     {403, DialPurpose::intercept, Action::intercept},
      {502, DialPurpose::intercept, Action::intercept},
  };
  for (const auto& row : rows) {
    CAPTURE(row.status, static_cast<int>(row.purpose));
    const auto refusal = policy::dial_refusal({row.status, Action::deny, "why"}, row.purpose);
    CHECK(refusal.action == row.expected);
    CHECK(refusal.status == row.status);
    CHECK(refusal.reason == "why");
  }
}

TEST_CASE("replayable: only idempotent requests without a body") {
  for (const char* method : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    CAPTURE(method);
    CHECK(policy::replayable_request(method, BodyFraming::none));
    CHECK_FALSE(policy::replayable_request(method, BodyFraming::content_length));
  }
  CHECK_FALSE(policy::replayable_request("POST", BodyFraming::none));
  CHECK_FALSE(policy::replayable_request("PATCH", BodyFraming::none));
  CHECK_FALSE(policy::replayable_request("get", BodyFraming::none));
  CHECK_FALSE(policy::replayable_request("GET", BodyFraming::chunked));
}

TEST_CASE("upstream fate: close, pool, or keep for the client that authenticated it") {
  struct Row {
    bool reusable, pinned, challenged, sent;
    UpstreamFate expected;
  };
  const Row rows[] = {
      {false, false, false, false, UpstreamFate::close}, {false, true, true, true, UpstreamFate::close},
      {true, false, false, false, UpstreamFate::pool},   {true, true, false, false, UpstreamFate::keep},
      {true, false, true, false, UpstreamFate::keep},    {true, false, false, true, UpstreamFate::keep},
  };
  for (const auto& row : rows) {
    CAPTURE(row.reusable, row.pinned, row.challenged, row.sent);
    CHECK(policy::upstream_fate({row.reusable, row.pinned, row.challenged, row.sent}) == row.expected);
  }
}
