// The decision core as tables: DESIGN.md's traffic rules, one row per case.

#include "config/syntax.hpp"
#include "decision_helpers.hpp"
#include "policy/connect_decision.hpp"
#include "policy/egress.hpp"
#include "policy/explain.hpp"
#include "policy/request_decision.hpp"
#include "policy/sign_in_guard.hpp"
#include "policy/tunnel_decision.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy;
using policy::Action;
using policy::HelloKind;
using policy::HostClass;
using test::scan;
using test::Scanned;

namespace {

const policy::Policy& v2_policy() {
  static const policy::Policy policy(test::load_yaml(test::v2_yaml));
  return policy;
}

std::string connect_head(const std::string& authority) {
  return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}

}  // namespace

TEST_CASE("plan_connect: what a CONNECT head becomes") {
  struct Row {
    std::string authority;
    int status;  // 0: proceed
    HostClass host_class;
  };
  const Row rows[] = {
      {"login.microsoftonline.com:443", 0, HostClass::auth},
      {"LOGIN.MicrosoftOnline.com.:443", 0, HostClass::auth},
      {"login.live.com:443", 0, HostClass::msa},
      {"device.login.microsoftonline.com:443", 0, HostClass::excluded},
      {"www.example.com:443", 0, HostClass::other},
      {"onedrive.live.com:443", 403, HostClass::blocked},
      {"www.example.com:8443", 403, HostClass::other},  // egress.connect_ports
      {"www.example.com:22", 403, HostClass::other},
      {"[::1]:443", 0, HostClass::other},  // the address rules apply once dialled
  };
  for (const auto& row : rows) {
    CAPTURE(row.authority);
    const auto scanned = scan(connect_head(row.authority));
    const auto plan = policy::plan_connect(v2_policy(), scanned.head, scanned.bytes);
    if (row.status == 0) {
      REQUIRE(std::holds_alternative<policy::ConnectTarget>(plan));
      CHECK(std::get<policy::ConnectTarget>(plan).host_class == row.host_class);
      CHECK(std::get<policy::ConnectTarget>(plan).host ==
            config::normalize_host(scanned.head.target_authority(scanned.bytes).host));
    } else {
      REQUIRE(std::holds_alternative<policy::Refusal>(plan));
      CHECK(std::get<policy::Refusal>(plan).status == row.status);
      CHECK_FALSE(std::get<policy::Refusal>(plan).reason.empty());
    }
  }
}

TEST_CASE("decide_after_hello: CONNECT authority x ClientHello") {
  enum Expect { intercept, tunnel, close };
  struct Row {
    const char* connect_host;
    HostClass connect_class;
    std::uint16_t port;
    HelloKind kind;
    const char* sni;
    Expect expect;
    const char* intercept_host;
    std::uint16_t upstream_port;
  };
  const Row rows[] = {
      // A sign-in CONNECT is intercepted as long as the client speaks TLS.
      {"login.microsoftonline.com", HostClass::auth, 443, HelloKind::sni, "login.microsoftonline.com", intercept,
       "login.microsoftonline.com", 443},
      {"login.microsoftonline.com", HostClass::auth, 443, HelloKind::no_sni, "", intercept, "login.microsoftonline.com",
       443},
      {"login.microsoftonline.com", HostClass::auth, 443, HelloKind::sni, "www.example.com", intercept,
       "login.microsoftonline.com", 443},
      // Fail closed: a sign-in host that does not get TLS is closed, never tunnelled.
      {"login.microsoftonline.com", HostClass::auth, 443, HelloKind::not_tls, "", close, "", 0},
      {"login.live.com", HostClass::msa, 443, HelloKind::silent, "", close, "", 0},
      {"login.live.com", HostClass::msa, 443, HelloKind::malformed, "", close, "", 0},
      // Two different sign-in hosts: closed.
      {"login.microsoftonline.com", HostClass::auth, 443, HelloKind::sni, "login.live.com", close, "", 0},
      // An SNI naming a sign-in host is enough (IP literal, excluded or ordinary CONNECT).
      {"127.0.0.1", HostClass::other, 443, HelloKind::sni, "login.microsoftonline.com", intercept,
       "login.microsoftonline.com", 443},
      {"device.login.microsoftonline.com", HostClass::excluded, 443, HelloKind::sni, "LOGIN.windows.net.", intercept,
       "login.windows.net", 443},
      // Ordinary destinations.
      {"www.example.com", HostClass::other, 443, HelloKind::sni, "www.example.com", tunnel, "", 0},
      {"www.example.com", HostClass::other, 443, HelloKind::no_sni, "", tunnel, "", 0},
      {"www.example.com", HostClass::other, 443, HelloKind::not_tls, "", tunnel, "", 0},
      {"www.example.com", HostClass::other, 443, HelloKind::silent, "", tunnel, "", 0},
      {"device.login.microsoftonline.com", HostClass::excluded, 443, HelloKind::sni, "device.login.microsoftonline.com",
       tunnel, "", 0},
      // A blocked SNI is blocked whatever the CONNECT said; a TLS hello that cannot be read is closed.
      {"www.example.com", HostClass::other, 443, HelloKind::sni, "onedrive.live.com", close, "", 0},
      {"www.example.com", HostClass::other, 443, HelloKind::malformed, "", close, "", 0},
      // A hello begun but not whole when the peek time ends is not silence: its rest could
      // name a sign-in host (found by test_fail_closed: it was tunnelled as "silent").
      {"www.example.com", HostClass::other, 443, HelloKind::incomplete, "", close, "", 0},
      {"127.0.0.1", HostClass::other, 443, HelloKind::incomplete, "", close, "", 0},
      {"login.live.com", HostClass::msa, 443, HelloKind::incomplete, "", close, "", 0},
      {"www.example.com", HostClass::other, 443, HelloKind::sni, "bad host", close, "", 0},
  };
  for (const auto& row : rows) {
    CAPTURE(row.connect_host, row.sni, static_cast<int>(row.kind));
    const policy::ConnectTarget target{row.connect_host, row.port, row.connect_class};
    const auto plan = policy::decide_after_hello(v2_policy(), target, {row.kind, row.sni});
    switch (row.expect) {
      case intercept: {
        REQUIRE(std::holds_alternative<policy::InterceptPlan>(plan));
        const auto& intercepted = std::get<policy::InterceptPlan>(plan);
        CHECK(intercepted.host == row.intercept_host);
        CHECK(intercepted.upstream_port == row.upstream_port);
        CHECK(policy::is_intercepted(intercepted.host_class));
        break;
      }
      case tunnel: CHECK(std::holds_alternative<policy::TunnelPlan>(plan)); break;
      case close:
        REQUIRE(std::holds_alternative<policy::Refusal>(plan));
        CHECK(std::get<policy::Refusal>(plan).status == 0);
        CHECK_FALSE(std::get<policy::Refusal>(plan).reason.empty());
        break;
    }
  }
}

TEST_CASE("plan_plain_request: one dispatch for every request form") {
  enum Expect { forward, connect, pac, refuse };
  struct Row {
    const char* head;
    Expect expect;
    int status;
  };
  const Row rows[] = {
      {"GET http://www.example.com/a?b HTTP/1.1\r\nHost: www.example.com\r\n\r\n", forward, 0},
      {"GET http://www.example.com:8080/ HTTP/1.1\r\nHost: www.example.com:8080\r\n\r\n", refuse, 403},
      {"GET https://www.example.com/ HTTP/1.1\r\nHost: www.example.com\r\n\r\n", refuse, 400},
      {"GET http://onedrive.live.com/ HTTP/1.1\r\nHost: onedrive.live.com\r\n\r\n", refuse, 403},
      {"GET http://login.live.com/ HTTP/1.1\r\nHost: login.live.com\r\n\r\n", forward, 0},
      {"GET http://login.live.com/ HTTP/1.1\r\nHost: www.example.com\r\n\r\n", refuse, 421},
      {"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n", connect, 0},
      {"CONNECT www.example.com:25 HTTP/1.1\r\nHost: www.example.com:25\r\n\r\n", refuse, 403},
      {"GET /proxy.pac HTTP/1.1\r\nHost: proxy.corp\r\n\r\n", pac, 0},
      {"HEAD /wpad.dat?x HTTP/1.1\r\nHost: proxy.corp\r\n\r\n", pac, 0},
      {"POST /proxy.pac HTTP/1.1\r\nHost: proxy.corp\r\nContent-Length: 0\r\n\r\n", refuse, 400},
      {"GET /index.html HTTP/1.1\r\nHost: proxy.corp\r\n\r\n", refuse, 400},
      {"OPTIONS * HTTP/1.1\r\nHost: proxy.corp\r\n\r\n", refuse, 400},
  };
  for (const auto& row : rows) {
    CAPTURE(row.head);
    const auto scanned = scan(row.head);
    const auto plan = policy::plan_plain_request(v2_policy(), scanned.head, scanned.bytes);
    switch (row.expect) {
      case forward: {
        REQUIRE(std::holds_alternative<policy::ForwardPlan>(plan));
        const auto& f = std::get<policy::ForwardPlan>(plan);
        CHECK(f.edits.origin_form);
        CHECK(f.edits.strip_proxy_hop);
        CHECK(f.edits.strip_tenant_restriction == policy::is_intercepted(f.host_class));
        CHECK(f.edits.inserted == v2_policy().headers().inserted_block(f.host_class));
        break;
      }
      case connect: CHECK(std::holds_alternative<policy::ConnectTarget>(plan)); break;
      case pac: CHECK(std::holds_alternative<policy::PacPlan>(plan)); break;
      case refuse:
        REQUIRE(std::holds_alternative<policy::Refusal>(plan));
        CHECK(std::get<policy::Refusal>(plan).status == row.status);
        break;
    }
  }
}

TEST_CASE("plan_intercepted_request: one host per intercepted connection, policy per request") {
  const policy::InterceptedChannel channel{"login.microsoftonline.com", HostClass::auth, 443};
  struct Row {
    const char* head;
    int status;  // 0: forwarded
  };
  const Row rows[] = {
      {"GET /common/oauth2 HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: LOGIN.microsoftonline.com.:443\r\n\r\n", 0},
      {"GET https://login.microsoftonline.com/x HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: login.live.com\r\n\r\n", 421},
      {"GET https://login.live.com/ HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n", 421},
      {"GET http://login.microsoftonline.com/ HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n", 421},
      {"GET / HTTP/1.1\r\nHost: login.microsoftonline.com:8443\r\n\r\n", 421},
      {"CONNECT login.live.com:443 HTTP/1.1\r\nHost: login.live.com:443\r\n\r\n", 405},
  };
  for (const auto& row : rows) {
    CAPTURE(row.head);
    const auto scanned = scan(row.head);
    const auto plan = policy::plan_intercepted_request(v2_policy(), scanned.head, scanned.bytes, channel);
    if (row.status == 0) {
      REQUIRE(std::holds_alternative<policy::ForwardPlan>(plan));
      const auto& f = std::get<policy::ForwardPlan>(plan);
      CHECK(f.edits.strip_tenant_restriction);
      CHECK_FALSE(f.edits.origin_form);
      CHECK(f.edits.inserted == v2_policy().headers().inserted_block(HostClass::auth));
    } else {
      REQUIRE(std::holds_alternative<policy::Refusal>(plan));
      CHECK(std::get<policy::Refusal>(plan).status == row.status);
    }
  }

  SECTION("a reload that stops intercepting the host closes the connection") {
    const policy::Policy reloaded(
        test::load_yaml(std::string(test::v2_yaml) + "  \nupstream: {}\n"));  // same hosts: still intercepted
    CHECK(policy::still_intercepted(reloaded, channel));
    auto config = test::load_yaml(test::v2_yaml);
    config.tenant_restrictions.auth_hosts = {"login.microsoft.com"};
    const policy::Policy narrowed(std::move(config));
    CHECK_FALSE(policy::still_intercepted(narrowed, channel));
    const auto scanned = scan("GET / HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n");
    const auto plan = policy::plan_intercepted_request(narrowed, scanned.head, scanned.bytes, channel);
    REQUIRE(std::holds_alternative<policy::Refusal>(plan));
    CHECK(std::get<policy::Refusal>(plan).status == 0);
  }
}

TEST_CASE("egress rules: ports, deny ranges, the proxy itself") {
  const auto config = test::load_yaml(test::v2_yaml);
  const auto& rules = config.egress;
  CHECK_FALSE(policy::check_egress_port(rules, policy::EgressKind::connect, 443));
  CHECK(policy::check_egress_port(rules, policy::EgressKind::connect, 80)->rule == policy::EgressRule::port);
  CHECK(policy::check_egress_port(rules, policy::EgressKind::connect, 80)->refusal.egress_rule ==
        policy::EgressRule::port);
  CHECK_FALSE(policy::check_egress_port(rules, policy::EgressKind::forward, 80));
  CHECK(policy::check_egress_port(rules, policy::EgressKind::forward, 443).has_value());

  policy::SelfEndpoints self;
  self.bound.emplace_back(*config::parse_ip("127.0.0.1"), 9090);
  self.wildcard_ports.push_back(3128);
  self.is_local_address = [](const config::IpAddress& a) { return a == *config::parse_ip("192.0.2.10"); };

  struct Row {
    const char* address;
    std::uint16_t port;
    bool operator_chosen;
    int rule;  // -1 allowed, else EgressRule
  };
  const Row rows[] = {
      {"93.184.216.34", 443, false, -1},
      {"2606:2800:220:1::1", 443, false, -1},
      {"127.0.0.1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"127.8.9.10", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"::1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"::ffff:127.0.0.1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"169.254.169.254", 80, false, static_cast<int>(policy::EgressRule::address)},  // cloud metadata
      {"fd00:ec2::254", 80, false, static_cast<int>(policy::EgressRule::address)},
      {"100.100.100.200", 80, false, static_cast<int>(policy::EgressRule::address)},
      {"fe80::1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"0.0.0.0", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"224.0.0.1", 443, false, static_cast<int>(policy::EgressRule::address)},
      // upstream.resolve addresses are the operator's: exempt from deny, never from self.
      {"127.0.0.1", 8443, true, -1},
      {"127.0.0.1", 9090, true, static_cast<int>(policy::EgressRule::self)},
      {"127.0.0.1", 3128, false, static_cast<int>(policy::EgressRule::self)},
      {"192.0.2.10", 3128, false, static_cast<int>(policy::EgressRule::self)},
      {"192.0.2.10", 9090, false, -1},
      // IPv6 spellings that deliver to a denied IPv4 address (IPv4-compatible, NAT64, 6to4).
      {"::127.0.0.1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"64:ff9b::7f00:1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"64:ff9b::a9fe:a9fe", 80, false, static_cast<int>(policy::EgressRule::address)},
      {"2002:7f00:1::1", 443, false, static_cast<int>(policy::EgressRule::address)},
      {"64:ff9b::5db8:d822", 443, false, -1},
      {"2002:5db8:d822::1", 443, false, -1},
  };
  for (const auto& row : rows) {
    CAPTURE(row.address, row.port, row.operator_chosen);
    const auto refused =
        policy::check_egress_address(rules, self, *config::parse_ip(row.address), row.port, row.operator_chosen);
    if (row.rule < 0) {
      CHECK_FALSE(refused);
    } else {
      REQUIRE(refused);
      CHECK(static_cast<int>(refused->rule) == row.rule);
      CHECK(refused->refusal.status == 403);
      CHECK(refused->refusal.egress_rule == refused->rule);  // the responder counts it
    }
  }

  // A connect to 0.0.0.0 (or ::) reaches loopback: with an egress.deny that leaves the
  // unspecified address out, CONNECT 0.0.0.0:<admin port> reached /metrics (found in a network
  // namespace with `deny: []`). The self rule holds whatever the deny list says.
  const auto open = test::load_yaml(std::string(test::v2_yaml) + "egress: {deny: []}\n");
  for (const char* unspecified : {"0.0.0.0", "::", "::ffff:0.0.0.0"}) {
    CAPTURE(unspecified);
    const auto address = *config::parse_ip(unspecified);
    for (const std::uint16_t port : {9090, 3128}) {
      for (const bool operator_chosen : {false, true}) {
        const auto refused = policy::check_egress_address(open.egress, self, address, port, operator_chosen);
        REQUIRE(refused);
        CHECK(refused->rule == policy::EgressRule::self);
      }
    }
    CHECK_FALSE(policy::check_egress_address(open.egress, self, address, 8443, false));
  }
}

TEST_CASE("block and allow take *. wildcards on every name the client gives") {
  auto config = test::load_yaml(std::string(test::v2_yaml) +
                                "allow: [contoso.sharepoint.com, \"*.eu.contoso-my.sharepoint.com\"]\n");
  config.block = {"*.sharepoint.com", "onedrive.live.com"};
  const policy::Policy policy(std::move(config));
  struct Row {
    const char* host;
    HostClass expected;
  };
  const Row rows[] = {
      {"evil.sharepoint.com", HostClass::blocked},
      {"A.B.SharePoint.com.", HostClass::blocked},
      {"sharepoint.com", HostClass::other},  // "*." never matches the bare suffix
      {"contoso.sharepoint.com", HostClass::other},
      {"x.eu.contoso-my.sharepoint.com", HostClass::other},
      {"eu.contoso-my.sharepoint.com", HostClass::blocked},
      {"onedrive.live.com", HostClass::blocked},
      {"login.microsoftonline.com", HostClass::auth},
      {"device.login.microsoftonline.com", HostClass::excluded},
  };
  for (const auto& row : rows) {
    CAPTURE(row.host);
    CHECK(policy.hosts().classify(row.host) == row.expected);
  }
  // Decided alike on a CONNECT authority, an SNI and an absolute-form URL.
  const auto connect = scan(connect_head("evil.sharepoint.com:443"));
  CHECK(std::get<policy::Refusal>(policy::plan_connect(policy, connect.head, connect.bytes)).status == 403);
  const policy::ConnectTarget ordinary{"www.example.com", 443, HostClass::other};
  const auto after = policy::decide_after_hello(policy, ordinary, {HelloKind::sni, "evil.sharepoint.com"});
  CHECK(std::get<policy::Refusal>(after).action == Action::block);
  const auto forward = scan("GET http://evil.sharepoint.com/ HTTP/1.1\r\nHost: evil.sharepoint.com\r\n\r\n");
  CHECK(std::get<policy::Refusal>(policy::plan_plain_request(policy, forward.head, forward.bytes)).action ==
        Action::block);
}

TEST_CASE("sign-in address guard: the address decides, the SNI may excuse") {
  const auto& policy = v2_policy();
  const auto guarded = *config::parse_ip("20.190.130.5");
  const auto guarded_v6 = *config::parse_ip("2603:1037:1::10");
  const auto elsewhere = *config::parse_ip("93.184.216.34");
  using policy::GuardOutcome;
  struct Row {
    config::IpAddress address;
    HelloKind kind;
    const char* sni;
    GuardOutcome expected;
  };
  const Row rows[] = {
      {elsewhere, HelloKind::no_sni, "", GuardOutcome::not_guarded},
      {guarded, HelloKind::no_sni, "", GuardOutcome::refused},
      {guarded, HelloKind::not_tls, "", GuardOutcome::refused},
      {guarded, HelloKind::silent, "", GuardOutcome::refused},
      {guarded, HelloKind::incomplete, "", GuardOutcome::refused},
      {guarded, HelloKind::malformed, "", GuardOutcome::refused},
      {guarded, HelloKind::sni, "www.attacker.example", GuardOutcome::refused},         // domain fronting
      {guarded, HelloKind::sni, "login.microsoftonline-p.com", GuardOutcome::refused},  // an alias of sign-in
      {guarded_v6, HelloKind::sni, "loginex.microsoftonline.com", GuardOutcome::refused},
      {guarded, HelloKind::sni, "graph.microsoft.com", GuardOutcome::tunnelled},
      {guarded, HelloKind::sni, "x.auth.microsoft.com", GuardOutcome::tunnelled},
      {guarded, HelloKind::sni, "device.login.microsoftonline.com", GuardOutcome::tunnelled},
      {guarded, HelloKind::sni, "login.microsoftonline.com", GuardOutcome::intercepted},
  };
  for (const auto& row : rows) {
    CAPTURE(row.sni, static_cast<int>(row.kind));
    const auto decision = policy::check_sign_in_guard(policy, row.address, {row.kind, row.sni});
    CHECK(decision.outcome == row.expected);
    CHECK(decision.reason.empty() == (row.expected != GuardOutcome::refused));
  }
  auto config = test::load_yaml(std::string(test::v2_yaml) + "sign_in_guard: {action: log}\n");
  const policy::Policy logging(std::move(config));
  CHECK(policy::check_sign_in_guard(logging, guarded, {HelloKind::no_sni, ""}).outcome == GuardOutcome::logged);
  const policy::Policy off(test::load_yaml(std::string(test::v2_yaml) + "sign_in_guard: {addresses: []}\n"));
  CHECK(policy::check_sign_in_guard(off, guarded, {HelloKind::no_sni, ""}).outcome == GuardOutcome::not_guarded);
}

TEST_CASE("sign-in guard behind a parent: the proxy's own lookup stands in for the address (issue 19.4)") {
  const auto& policy = v2_policy();
  const auto guarded = *config::parse_ip("20.190.151.7");
  const auto elsewhere = *config::parse_ip("93.184.216.34");
  using policy::GuardDestination;
  using policy::GuardOutcome;
  struct Row {
    GuardDestination destination;
    HelloKind kind;
    const char* sni;
    GuardOutcome expected;
  };
  const Row rows[] = {
      {{{elsewhere}, false}, HelloKind::sni, "fronted.test", GuardOutcome::not_guarded},
      {{{elsewhere, guarded}, false}, HelloKind::sni, "fronted.test", GuardOutcome::refused},  // any answer
      {{{guarded}, false}, HelloKind::no_sni, "", GuardOutcome::refused},
      {{{}, true}, HelloKind::sni, "fronted.test", GuardOutcome::refused},  // lookup failed: fail closed
      {{{}, true}, HelloKind::not_tls, "", GuardOutcome::refused},
      {{{}, true}, HelloKind::sni, "graph.microsoft.com", GuardOutcome::tunnelled},  // allowed there anyway
      {{{}, true}, HelloKind::sni, "login.microsoftonline.com", GuardOutcome::intercepted},
      {{{}, false}, HelloKind::no_sni, "", GuardOutcome::not_guarded},  // nothing known, nothing failed
  };
  for (const auto& row : rows) {
    CAPTURE(row.sni, row.destination.addresses.size(), row.destination.unknown);
    const auto decision = policy::check_sign_in_guard(policy, row.destination, {row.kind, row.sni});
    CHECK(decision.outcome == row.expected);
    CHECK(decision.reason.empty() == (row.expected != GuardOutcome::refused));
  }
  CHECK_THAT(policy::check_sign_in_guard(policy, GuardDestination{{}, true}, {HelloKind::no_sni, ""}).reason,
             Catch::Contains("could not resolve"));
  const policy::Policy off(test::load_yaml(std::string(test::v2_yaml) + "sign_in_guard: {addresses: []}\n"));
  CHECK(policy::check_sign_in_guard(off, GuardDestination{{}, true}, {HelloKind::no_sni, ""}).outcome ==
        GuardOutcome::not_guarded);
}

TEST_CASE("explain answers with the engine's own decisions") {
  auto config = test::load_yaml(std::string(test::v2_yaml) + "clients: {allow: [10.0.0.0/8]}\n");
  const policy::Policy policy(std::move(config));
  const auto ask = [&](const char* target, const char* client = nullptr) {
    return test::explained(policy, target, client);
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(ask("https://login.microsoftonline.com/common"),
             Contains("class: auth\n") && Contains("profile: default\n") && Contains("action: intercept\n") &&
                 Contains("header: sec-Restrict-Tenant-Access-Policy: aaaabbbb-0000-cccc-1111-dddd2222eeee:"
                          "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\n"));
  CHECK_THAT(ask("device.login.microsoftonline.com"), Contains("class: excluded\n") && Contains("action: tunnel\n"));
  CHECK_THAT(ask("https://onedrive.live.com/x"),
             Contains("class: blocked\n") && Contains("action: block (block: onedrive.live.com)\n"));
  CHECK_THAT(ask("http://169.254.169.254/latest/meta-data/"), Contains("action: deny (egress.deny"));
  CHECK_THAT(ask("[fd00:ec2::254]:443"), Contains("action: deny (egress.deny"));
  CHECK_THAT(ask("www.example.com:8443"), Contains("action: deny (egress.connect_ports)\n"));
  CHECK_THAT(ask("http://www.example.com:8080/"), Contains("action: deny (egress.forward_ports)\n"));
  CHECK_THAT(ask("20.190.128.1:443"), Contains("action: deny (sign_in_guard"));
  CHECK_THAT(ask("http://www.example.com/", "192.0.2.1"), Contains("action: deny (clients.allow)\n"));
  CHECK_THAT(ask("https://www.example.com/", "10.1.2.3"), Contains("action: tunnel\n") && Contains("addresses: "));
  CHECK(std::holds_alternative<policy::ExplainError>(policy::explain(policy, std::nullopt, "ftp://x/y")));
}

TEST_CASE("tunnel decision: the guard merged into the plan, peek time, reload survival") {
  const auto& policy = v2_policy();
  using policy::GuardDestination;
  using policy::GuardOutcome;
  const auto guarded = *config::parse_ip("20.190.151.7");
  const auto elsewhere = *config::parse_ip("93.184.216.34");
  const policy::ConnectTarget ordinary{"fronted.example", 443, HostClass::other};
  const policy::ConnectTarget sign_in{"login.microsoftonline.com", 443, HostClass::auth};
  const GuardDestination to_guarded{{guarded}, false};
  const GuardDestination to_elsewhere{{elsewhere}, false};
  struct Row {
    const policy::ConnectTarget* target;
    HelloKind kind;
    const char* sni;
    const GuardDestination* destination;
    int plan;  // 0 intercept, 1 tunnel, 2 close
    GuardOutcome guard;
  };
  const Row rows[] = {
      {&ordinary, HelloKind::sni, "fronted.example", &to_elsewhere, 1, GuardOutcome::not_guarded},
      {&ordinary, HelloKind::sni, "fronted.example", &to_guarded, 2, GuardOutcome::refused},  // fronting
      {&ordinary, HelloKind::no_sni, "", &to_guarded, 2, GuardOutcome::refused},
      {&ordinary, HelloKind::sni, "graph.microsoft.com", &to_guarded, 1, GuardOutcome::tunnelled},
      {&ordinary, HelloKind::sni, "login.microsoftonline.com", &to_guarded, 0, GuardOutcome::intercepted},
      {&sign_in, HelloKind::sni, "login.microsoftonline.com", nullptr, 0, GuardOutcome::not_guarded},
  };
  for (const auto& row : rows) {
    CAPTURE(row.target->host, row.sni, static_cast<int>(row.kind));
    const auto decision =
        policy::decide_tunnel(policy, *row.target, {row.kind, row.sni}, row.destination, policy.default_profile());
    CHECK(static_cast<int>(decision.plan.index()) == row.plan);
    CHECK(decision.guard.outcome == row.guard);
    if (row.plan == 2) {
      const auto& refusal = std::get<policy::Refusal>(decision.plan);
      CHECK(refusal.status == 0);  // closed: the client already got 200
      CHECK(refusal.action == Action::deny);
      CHECK_THAT(refusal.reason, Catch::Contains("sign_in_guard"));
    }
  }
  const policy::Policy logging(test::load_yaml(std::string(test::v2_yaml) + "sign_in_guard: {action: log}\n"));
  const auto logged =
      policy::decide_tunnel(logging, ordinary, {HelloKind::no_sni, ""}, &to_guarded, logging.default_profile());
  CHECK(std::holds_alternative<policy::TunnelPlan>(logged.plan));
  CHECK(logged.guard.outcome == GuardOutcome::logged);

  using std::chrono::milliseconds;
  CHECK(policy::peek_time(HostClass::auth, milliseconds(15000)) == milliseconds(15000));
  CHECK(policy::peek_time(HostClass::msa, milliseconds(15000)) == milliseconds(15000));
  CHECK(policy::peek_time(HostClass::other, milliseconds(15000)) == milliseconds(policy::ordinary_peek_ms));
  CHECK(policy::closed_before_hello(HostClass::auth) == Action::intercept);
  CHECK(policy::closed_before_hello(HostClass::other) == Action::tunnel);

  CHECK(policy::tunnel_still_allowed(policy, "www.example.com", "www.example.com", policy.default_profile()));
  CHECK(policy::tunnel_still_allowed(policy, "www.example.com", "", policy.default_profile()));
  CHECK_FALSE(
      policy::tunnel_still_allowed(policy, "onedrive.live.com", "", policy.default_profile()));  // blocked in v2_yaml
  CHECK_FALSE(
      policy::tunnel_still_allowed(policy, "93.184.216.34", "login.microsoftonline.com", policy.default_profile()));
}
