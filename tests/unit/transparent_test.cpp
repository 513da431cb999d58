// Issue 22: the transparent entry's pure parts. Config (listeners, method, upstream.mark), the
// loop rules, the flow as a CONNECT target, the action a flow is counted as, and explain.

#include "policy/transparent.hpp"
#include "config/loader.hpp"
#include "policy/explain.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy;
using policy::TransparentAction;
using policy::TransparentLoop;

namespace {

policy::OriginalDestination to(const char* address, std::uint16_t port) {
  return {*config::parse_ip(address), port};
}

}  // namespace

TEST_CASE("transparent: config keys, values and their errors") {
  const auto config = test::load_yaml(std::string(test::v2_yaml) +
                                      "transparent: {listen: ['0.0.0.0:3129', '[::]:3129'], method: tproxy}\n"
                                      "upstream: {mark: 0x1F}\n");
  REQUIRE(config.transparent.listen.size() == 2);
  CHECK(config.transparent.listen[1].host == "::");
  CHECK(config.transparent.method == config::TransparentMethod::tproxy);
  CHECK(config.upstream.mark == 31);
  const auto defaults = test::load_yaml(test::v2_yaml);
  CHECK_FALSE(defaults.transparent.enabled());
  CHECK(defaults.transparent.method == config::TransparentMethod::redirect);
  CHECK(defaults.upstream.mark == 0);
  const std::string base = test::v2_yaml;
  struct Row {
    std::string yaml;
    std::string message;
  };
  const std::vector<Row> rows{
      {"transparent: {method: intercept}\n", "transparent.method: \"intercept\" is not one of redirect, tproxy"},
      {"transparent: {listen: ['proxy.corp:3129']}\n", "transparent.listen[0]: \"proxy.corp:3129\" is not an IP"},
      {"listen: '127.0.0.1:3128'\ntransparent: {listen: ['127.0.0.1:3128']}\n",
       "transparent.listen[0]: \"127.0.0.1:3128\" is already a listener"},
      {"transparent: {listen: ['0.0.0.0:3129', '0.0.0.0:3129']}\n", "transparent.listen[1]"},
      {"transparent: {listen: [], mode: x}\n", "transparent.mode: unknown key"},
      {"upstream: {mark: -1}\n", "upstream.mark: \"-1\" is not a packet mark"},
      {"upstream: {mark: 4294967296}\n", "upstream.mark: \"4294967296\" is not a packet mark"},
      {"upstream: {mark: 0x1ffffffff}\n", "is not a packet mark"},
      {"upstream: {mark: 0xg}\n", "is not a packet mark"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.yaml);
    CHECK_THAT(test::config_error(base + row.yaml), Catch::Contains(row.message));
  }
  CHECK_THAT(test::config_error(base + "upstream: {mark: 0xg}\n"), Catch::StartsWith("trproxy.yaml:"));
}

TEST_CASE("transparent: the loop rules") {
  policy::SelfEndpoints self;
  self.bound = {{*config::parse_ip("10.0.0.1"), 3129}};
  self.wildcard_ports = {3128};
  self.is_local_address = [](const config::IpAddress& a) {
    return a == *config::parse_ip("10.0.0.1") || a == *config::parse_ip("192.168.1.1");
  };
  struct Row {
    std::optional<policy::OriginalDestination> destination;
    TransparentLoop loop;
  };
  const Row rows[] = {
      {std::nullopt, TransparentLoop::unreadable},
      {to("10.0.0.1", 3129), TransparentLoop::own_listener},
      {to("192.168.1.1", 3128), TransparentLoop::own_listener},  // a wildcard listener's port, a local address
      {to("192.168.1.1", 443), TransparentLoop::local_address},  // the gateway itself
      {to("203.0.113.9", 3128), TransparentLoop::none},          // another host's 3128
      {to("203.0.113.9", 443), TransparentLoop::none},
      {to("2001:db8::9", 443), TransparentLoop::none},
  };
  for (const auto& row : rows) {
    CAPTURE(row.destination ? config::to_string(row.destination->address) : "none");
    CHECK(policy::check_transparent_destination(row.destination, self) == row.loop);
  }
}

TEST_CASE("transparent: a flow is a CONNECT to its original destination") {
  const policy::Policy policy(test::load_yaml(test::v2_yaml));
  const auto plan = policy::plan_transparent(policy, to("203.0.113.9", 443));
  const auto& target = std::get<policy::ConnectTarget>(plan);
  CHECK(target.host == "203.0.113.9");
  CHECK(target.port == 443);
  CHECK(target.host_class == policy::HostClass::other);
  CHECK(std::get<policy::ConnectTarget>(policy::plan_transparent(policy, to("2001:db8::9", 443))).host ==
        "2001:db8::9");
  const auto refused = policy::plan_transparent(policy, to("203.0.113.9", 8443));
  CHECK(std::get<policy::Refusal>(refused).status == 403);  // egress.connect_ports, as for a CONNECT
  // The SNI decides exactly as after a CONNECT: a sign-in name is intercepted.
  const auto after = policy::decide_after_hello(policy, target, {policy::HelloKind::sni, "login.microsoftonline.com"});
  CHECK(std::get<policy::InterceptPlan>(after).host == "login.microsoftonline.com");
}

TEST_CASE("transparent: what a flow is counted as") {
  using policy::Action;
  CHECK(policy::transparent_action(Action::intercept, 200, false, 512) == TransparentAction::intercept);
  CHECK(policy::transparent_action(Action::tunnel, 0, false, 4096) == TransparentAction::tunnel);
  // A tunnel that relayed, its line carrying the guard's "logged" reason, is still a tunnel.
  CHECK(policy::transparent_action(Action::tunnel, 0, true, 4096) == TransparentAction::tunnel);
  CHECK(policy::transparent_action(Action::tunnel, 0, true, 0) == TransparentAction::close);
  CHECK(policy::transparent_action(Action::intercept, 0, true, 0) == TransparentAction::close);
  CHECK(policy::transparent_action(Action::block, 0, true, 0) == TransparentAction::block);
  CHECK(policy::transparent_action(Action::deny, 0, true, 0) == TransparentAction::deny);
  CHECK(std::string(policy::to_string(TransparentAction::close)) == "close");
}

TEST_CASE("transparent: explain --transparent") {
  const policy::Policy policy(
      test::load_yaml(std::string(test::v2_yaml) + "transparent: {listen: ['0.0.0.0:3129']}\n"));
  const auto explained = [&](const char* destination, std::optional<std::string> sni) {
    const auto answer = policy::explain_transparent(policy, std::nullopt, destination, sni);
    REQUIRE(std::holds_alternative<std::string>(answer));
    return std::get<std::string>(answer);
  };
  CHECK_THAT(explained("20.190.128.5:443", "login.microsoftonline.com"),
             Catch::Contains("action: intercept (upstream: the proxy's own resolution of login.microsoftonline.com"));
  CHECK_THAT(explained("20.190.128.5:443", std::nullopt), Catch::Contains("action: deny (sign_in_guard"));
  CHECK_THAT(explained("203.0.113.9:443", "www.example.com"), Catch::Contains("action: tunnel"));
  CHECK_THAT(explained("203.0.113.9:443", "onedrive.live.com"), Catch::Contains("action: block"));
  CHECK_THAT(explained("10.1.1.1:3129", std::nullopt), Catch::Contains("action: deny (transparent loop"));
  CHECK_THAT(explained("127.0.0.1:443", "www.example.com"), Catch::Contains("action: deny (egress.deny"));
  CHECK(std::holds_alternative<policy::ExplainError>(
      policy::explain_transparent(policy, std::nullopt, "proxy.corp:443", std::nullopt)));
}
