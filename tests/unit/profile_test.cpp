// Profiles and report mode (DESIGN.md, "Profiles and report mode"): loading and validation,
// the selection table, what a report profile does to a request, explain and --check.

#include "config/syntax.hpp"
#include "decision_helpers.hpp"
#include "policy/explain.hpp"
#include "policy/request_decision.hpp"
#include "policy/rewrite.hpp"
#include "proxy/observe/sign_in_stats.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy;
using policy::HostClass;
using test::scan;
using test::Scanned;

namespace {

const char* const profiles_yaml = R"(
profiles:
  - name: pilot
    clients: ["10.20.0.0/16", "fd00:20::/32"]
    v2:
      tenant_id: "11111111-2222-3333-4444-555555555555"
      policy_id: "66666666-7777-8888-9999-000000000000"
  - name: discovery
    clients: ["10.0.0.0/8"]
    v1:
      allowed_tenants: [contoso.com]
      access_context: "bbbbcccc-1111-dddd-2222-eeee3333ffff"
    mode: report
  - name: macs
    clients: ["192.168.7.0/24"]
    v1:
      allowed_tenants: [contoso.com, fabrikam.com]
      access_context: "bbbbcccc-1111-dddd-2222-eeee3333ffff"
)";

const policy::Policy& profiled() {
  static const policy::Policy policy(test::load_yaml(std::string(test::v2_yaml) + profiles_yaml));
  return policy;
}

std::string error_of(const std::string& yaml) {
  try {
    test::load_yaml(yaml);
    const policy::Policy policy(test::load_yaml(yaml));  // header budgets are checked here
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string with_profile(const std::string& profile) {
  return std::string(test::v2_yaml) + "profiles:\n" + profile;
}

std::string rewritten(const Scanned& scanned, const policy::RewriteEdits& edits) {
  std::string out;
  for (const auto part : policy::rewrite_head(scanned.bytes, scanned.head, edits)) out += part;
  return out;
}

}  // namespace

TEST_CASE("profiles load in file order with their own values and mode") {
  const auto& c = profiled().config();
  REQUIRE(c.profiles.size() == 3);
  CHECK(c.profiles[0].name == "pilot");
  CHECK(c.profiles[0].mode == config::Mode::v2);
  CHECK(c.profiles[0].enforcement == config::Enforcement::enforce);
  CHECK(c.profiles[0].clients.size() == 2);
  CHECK(c.profiles[1].enforcement == config::Enforcement::report);
  CHECK(c.profiles[1].mode == config::Mode::v1);
  CHECK(c.tenant_restrictions.enforcement == config::Enforcement::enforce);
  CHECK(test::load_yaml(std::string(test::v2_yaml) + "").profiles.empty());
  const auto report = test::load_yaml(
      std::string(test::v2_yaml).replace(std::string(test::v2_yaml).find("  v2:"), 0, "  mode: report\n"));
  CHECK(report.tenant_restrictions.enforcement == config::Enforcement::report);
}

TEST_CASE("profiles are validated like the default, naming the key") {
  const std::string v2 = R"(
    v2: {tenant_id: "11111111-2222-3333-4444-555555555555", policy_id: "66666666-7777-8888-9999-000000000000"}
)";
  struct Row {
    std::string profile;
    const char* error;
  };
  const Row rows[] = {
      {"  - {name: a, clients: [10.0.0.0/8]}\n", "profiles[0]: needs exactly one of v1 or v2"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n" + v2 +
           "    v1: {allowed_tenants: [contoso.com], access_context: \"bbbbcccc-1111-dddd-2222-eeee3333ffff\"}\n",
       "profiles[0]: has both v1 and v2"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n    v2: {tenant_id: nope, policy_id: "
       "\"66666666-7777-8888-9999-000000000000\"}\n",
       "profiles[0].v2.tenant_id: \"nope\" is not a GUID"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n    v1: {allowed_tenants: [\"con toso\"], access_context: "
       "\"bbbbcccc-1111-dddd-2222-eeee3333ffff\"}\n",
       "profiles[0].v1.allowed_tenants[0]: \"con toso\" is neither a domain name nor a tenant GUID"},
      {"  - name: a\n    clients: [10.0.0.1/8]\n" + v2,
       "profiles[0].clients[0]: \"10.0.0.1/8\" is not an address prefix"},
      {"  - name: a\n    clients: []\n" + v2, "profiles[0].clients: expected at least one address prefix"},
      {"  - name: a\n" + v2, "profiles[0].clients: missing"},
      {"  - clients: [10.0.0.0/8]\n" + v2, "profiles[0].name: missing"},
      {"  - name: default\n    clients: [10.0.0.0/8]\n" + v2, "profiles[0].name: \"default\" is reserved"},
      {"  - name: \"a b\"\n    clients: [10.0.0.0/8]\n" + v2, "profiles[0].name: \"a b\" is not a profile name"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n" + v2 + "  - name: a\n    clients: [10.1.0.0/16]\n" + v2,
       "profiles[1].name: \"a\" is already the name of a profile"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n    mode: dry-run\n" + v2,
       "profiles[0].mode: \"dry-run\" is not one of enforce, report"},
      {"  - name: a\n    clients: [10.0.0.0/8]\n    auth_hosts: [x.example]\n" + v2,
       "profiles[0].auth_hosts: unknown key"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.profile);
    CHECK_THAT(error_of(with_profile(row.profile)), Catch::Contains(row.error));
  }
  CHECK_THAT(error_of(std::string(test::v2_yaml) + "profiles: {name: a}\n"),
             Catch::Contains("profiles: expected a list"));
  CHECK_THAT(error_of(std::string(test::v2_yaml) + "tenant_restrictions_mode: report\n"),
             Catch::Contains("unknown key"));
  // The v1 header budget applies to each profile's own list.
  std::string tenants;
  for (int i = 0; i < 400; ++i) tenants += (i ? ", " : "") + std::string("tenant") + std::to_string(i) + ".example.com";
  CHECK_THAT(error_of(with_profile("  - name: big\n    clients: [10.0.0.0/8]\n    v1: {allowed_tenants: [" + tenants +
                                   "], access_context: \"bbbbcccc-1111-dddd-2222-eeee3333ffff\"}\n")),
             Catch::Contains("profiles[0].v1.allowed_tenants: the Restrict-Access-To-Tenants header would be"));
}

TEST_CASE("select_profile: the first profile whose clients contain the address, else the default") {
  struct Row {
    const char* client;  // nullptr: no address known
    const char* profile;
  };
  const Row rows[] = {
      {"10.20.1.2", "pilot"},      // in pilot and in discovery: the first wins
      {"10.30.1.2", "discovery"},  // only in discovery
      {"192.168.7.9", "macs"},    {"192.168.8.9", "default"},    {"172.16.0.1", "default"}, {"fd00:20::1", "pilot"},
      {"fd00:21::1", "default"},  {"::ffff:10.20.0.1", "pilot"},  // IPv4-mapped is the IPv4 address
      {"127.0.0.1", "default"},   {nullptr, "default"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.client ? row.client : "(none)");
    std::optional<config::IpAddress> address;
    if (row.client) {
      address = config::parse_ip(row.client);
      REQUIRE(address);
    }
    CHECK(profiled().profile_for(address).name == row.profile);
    const auto index = policy::select_profile(profiled().config().profiles, address);
    CHECK((index ? profiled().config().profiles[*index].name : std::string("default")) == row.profile);
  }
}

TEST_CASE("an enforce profile inserts its own headers; a report profile forwards the head unchanged") {
  const policy::InterceptedChannel auth{"login.microsoftonline.com", HostClass::auth, 443};
  const policy::InterceptedChannel msa{"login.live.com", HostClass::msa, 443};
  const auto request = scan(
      "GET /common/oauth2 HTTP/1.1\r\nHost: login.microsoftonline.com\r\n"
      "sec-Restrict-Tenant-Access-Policy: spoofed\r\nRestrict_Access_Context: spoofed\r\n\r\n");
  const auto& policy = profiled();
  const auto& pilot = policy.profile_for(config::parse_ip("10.20.0.1"));
  const auto& discovery = policy.profile_for(config::parse_ip("10.30.0.1"));

  auto plan = policy::plan_intercepted_request(policy, request.head, request.bytes, auth, pilot);
  REQUIRE(std::holds_alternative<policy::ForwardPlan>(plan));
  auto forward = std::get<policy::ForwardPlan>(plan);
  CHECK(forward.profile == &pilot);
  CHECK(rewritten(request, forward.edits) ==
        "GET /common/oauth2 HTTP/1.1\r\nHost: login.microsoftonline.com\r\n"
        "sec-Restrict-Tenant-Access-Policy: 11111111-2222-3333-4444-555555555555:66666666-7777-8888-9999-000000000000"
        "\r\n\r\n");

  plan = policy::plan_intercepted_request(policy, request.head, request.bytes, auth, discovery);
  forward = std::get<policy::ForwardPlan>(plan);
  CHECK(forward.profile == &discovery);
  CHECK(rewritten(request, forward.edits) == request.bytes);  // byte for byte, spoofed fields included
  const auto msa_request =
      scan("GET / HTTP/1.1\r\nHost: login.live.com\r\nsec-Restrict-Tenant-Access-Policy: restrict-msa\r\n\r\n");
  plan = policy::plan_intercepted_request(policy, msa_request.head, msa_request.bytes, msa, discovery);
  REQUIRE(std::holds_alternative<policy::ForwardPlan>(plan));
  CHECK(rewritten(msa_request, std::get<policy::ForwardPlan>(plan).edits) == msa_request.bytes);

  // A plain-HTTP forward to a sign-in host in report mode: origin-form and the proxy's own
  // fields as always, the tenant-restriction fields untouched.
  const auto plain = scan(
      "GET http://login.live.com/x HTTP/1.1\r\nHost: login.live.com\r\nProxy-Connection: keep-alive\r\n"
      "sec-Restrict-Tenant-Access-Policy: spoofed\r\n\r\n");
  const auto plain_plan = policy::plan_plain_request(policy, plain.head, plain.bytes, discovery);
  REQUIRE(std::holds_alternative<policy::ForwardPlan>(plain_plan));
  CHECK(rewritten(plain, std::get<policy::ForwardPlan>(plain_plan).edits) ==
        "GET /x HTTP/1.1\r\nHost: login.live.com\r\nsec-Restrict-Tenant-Access-Policy: spoofed\r\n\r\n");
  // An ordinary host has no profile.
  const auto other = scan("GET http://www.example.com/ HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
  CHECK(std::get<policy::ForwardPlan>(policy::plan_plain_request(policy, other.head, other.bytes, pilot)).profile ==
        nullptr);
}

TEST_CASE("explain and --check show profiles") {
  const auto& policy = profiled();
  const auto ask = [&](const char* target, const char* client = nullptr) {
    return test::explained(policy, target, client);
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(ask("https://login.microsoftonline.com/common", "10.20.0.1"),
             Contains("profile: pilot\n") && Contains("enforcement: enforce\n") &&
                 Contains("header: sec-Restrict-Tenant-Access-Policy: 11111111-2222-3333-4444-555555555555:"
                          "66666666-7777-8888-9999-000000000000\n"));
  const auto report = ask("https://login.microsoftonline.com/common", "10.30.0.1");
  CHECK_THAT(report, Contains("profile: discovery\n") && Contains("enforcement: report\n") &&
                         Contains("headers: none inserted (report mode"));
  CHECK_THAT(report, !Contains("header: "));
  CHECK_THAT(ask("https://login.live.com/", "192.168.7.1"),
             Contains("profile: macs\n") && Contains("headers: none inserted"));
  CHECK_THAT(ask("https://login.live.com/", nullptr), Contains("profile: default\n"));
  CHECK_THAT(ask("https://www.example.com/", "10.20.0.1"), Contains("profile: pilot\n") && Contains("action: tunnel"));

  const auto summary = policy::summarize(policy);
  CHECK_THAT(summary, Contains("enforcement: enforce\n") &&
                          Contains("profile pilot: v2, enforce, clients 10.20.0.0/16, fd00:20::/32\n") &&
                          Contains("profile discovery: v1, report, clients 10.0.0.0/8\n") &&
                          Contains("(report mode: nothing inserted or stripped; enforce would insert:)") &&
                          Contains("Restrict-Access-To-Tenants: contoso.com,fabrikam.com   [54 bytes on the wire]") &&
                          Contains("profile default: every other client\n"));
}

TEST_CASE("sign-in counters: one shard per worker, summed at scrape, every profile present from start") {
  const auto& policy = profiled();
  const auto& profile = policy.profiles()[0];
  const auto series = "trproxy_sign_in_requests_total{profile=\"" + profile.name + "\",enforcement=\"" +
                      std::string(config::to_string(profile.enforcement)) + "\",host_class=\"auth\"} ";
  const auto blocked = "trproxy_sign_in_blocked_total{code=\"AADSTS500021\",profile=\"" + profile.name + "\"} ";
  proxy::SignInMetrics metrics(2);
  const auto zero = metrics.render(policy);
  CHECK_THAT(zero, Catch::Contains(series + "0\n"));
  CHECK_THAT(zero, Catch::Contains(blocked + "0\n"));
  CHECK_THAT(zero, Catch::Contains("trproxy_restrict_access_confirm_total 0\n"));
  auto first = metrics.cells_for(policy, 0);
  auto second = metrics.cells_for(policy, 1);
  REQUIRE(first.size() == policy.profiles().size());
  CHECK(first[0] != second[0]);                        // each worker its own cells
  CHECK(metrics.cells_for(policy, 0)[0] == first[0]);  // the same ones again: pointers outlive reloads
  first[0]->request(profile.enforcement, policy::HostClass::auth);
  second[0]->request(profile.enforcement, policy::HostClass::auth);
  second[0]->block(policy::BlockCode::aadsts500021);
  metrics.confirmed(0);
  metrics.confirmed(1);
  const auto text = metrics.render(policy);
  CHECK_THAT(text, Catch::Contains(series + "2\n"));
  CHECK_THAT(text, Catch::Contains(blocked + "1\n"));
  CHECK_THAT(text, Catch::Contains("trproxy_restrict_access_confirm_total 2\n"));
}
