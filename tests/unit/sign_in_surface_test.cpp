// The sign-in surface --check reports: the other names of the sign-in service and the
// sovereign-cloud hosts under a config, and the warnings about mistakes that still load.

#include <catch2/catch.hpp>
#include <map>

#include "policy/config_warnings.hpp"
#include "policy/policy.hpp"
#include "policy/sign_in_aliases.hpp"
#include "test_configs.hpp"

using namespace trproxy;
using policy::Action;

namespace {

// "guarded" stands for a tunnel the sign-in address guard refuses at Microsoft's sign-in addresses.
std::map<std::string, std::string> alias_actions(const std::string& yaml) {
  const policy::Policy policy(test::load_yaml(yaml));
  std::map<std::string, std::string> out;
  for (const auto& [alias, action, guarded] : policy::sign_in_alias_actions(policy)) {
    out[std::string(alias.host)] = guarded ? "guarded" : policy::to_string(action);
  }
  return out;
}

const char* const own_ids = R"(
tenant_restrictions:
  v2:
    tenant_id: "11111111-2222-3333-4444-555555555555"
    policy_id: "66666666-7777-8888-9999-000000000000"
)";

}  // namespace

TEST_CASE("every other sign-in name is guarded by default; auth_hosts intercepts, block refuses") {
  const auto defaults = alias_actions(test::v2_yaml);
  REQUIRE(defaults.size() == 10);
  for (const char* host :
       {"sts.windows.net", "login.microsoftonline-p.com", "loginex.microsoftonline.com", "login2.microsoftonline.com",
        "login-us.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn",
        "login.sovcloud-identity.fr", "login.sovcloud-identity.de", "login.sovcloud-identity.sg"}) {
    INFO(host);
    REQUIRE(defaults.count(host) == 1);
    CHECK(defaults.at(host) == "guarded");
  }
  // With the guard off, or the name listed in tunnel_names, an alias is a plain tunnel.
  const auto unguarded = alias_actions(std::string(test::v2_yaml) + "sign_in_guard: {addresses: []}\n");
  CHECK(unguarded.at("sts.windows.net") == "tunnel");
  const auto listed =
      alias_actions(std::string(test::v2_yaml) + "sign_in_guard: {tunnel_names: [login.microsoftonline.us]}\n");
  CHECK(listed.at("login.microsoftonline.us") == "tunnel");
  CHECK(listed.at("sts.windows.net") == "guarded");

  const auto hardened = alias_actions(std::string(own_ids) + R"(
  auth_hosts: [login.microsoftonline.com, login.microsoft.com, login.windows.net, sts.windows.net,
               login.microsoftonline-p.com, loginex.microsoftonline.com, login2.microsoftonline.com]
block: [login.microsoftonline.us, login.partner.microsoftonline.cn, LOGIN.sovcloud-identity.fr]
)");
  CHECK(hardened.at("sts.windows.net") == "intercept");
  CHECK(hardened.at("login2.microsoftonline.com") == "intercept");
  CHECK(hardened.at("login-us.microsoftonline.com") == "guarded");
  CHECK(hardened.at("login.microsoftonline.us") == "block");
  CHECK(hardened.at("login.sovcloud-identity.fr") == "block");
  CHECK(hardened.at("login.sovcloud-identity.de") == "guarded");
}

TEST_CASE("check prints one line per other sign-in name") {
  const policy::Policy policy(test::load_yaml(std::string(test::v2_yaml)));
  const auto text = policy::describe_sign_in_aliases(policy);
  CHECK(std::count(text.begin(), text.end(), '\n') == 10);
  CHECK_THAT(text, Catch::StartsWith("sign-in alias sts.windows.net: guarded ("));
  CHECK_THAT(text, Catch::Contains("\nsign-in alias login.microsoftonline.us: guarded (US Government"));
  CHECK_THAT(text, Catch::Contains("refused by sign_in_guard where it resolves to the sign-in addresses"));
}

TEST_CASE("warnings: the documentation's example ids, tenant_id equal to policy_id") {
  CHECK(policy::config_warnings(test::load_yaml(own_ids)).empty());

  const auto shipped = policy::config_warnings(test::load_yaml(test::v2_yaml));
  REQUIRE(shipped.size() == 2);
  CHECK_THAT(shipped[0], Catch::StartsWith("tenant_restrictions.v2.tenant_id aaaabbbb-0000-cccc-1111-dddd2222eeee "
                                           "is an example id from Microsoft's documentation"));
  CHECK_THAT(shipped[1], Catch::StartsWith("tenant_restrictions.v2.policy_id 1aaaaaa1-"));

  const auto v1 = policy::config_warnings(test::load_yaml(test::v1_yaml));
  REQUIRE(v1.size() == 2);  // the GUID among allowed_tenants and the access context
  CHECK_THAT(v1[0], Catch::Contains("v1.allowed_tenants aaaabbbb-0000-cccc-1111-dddd2222eeee"));
  CHECK_THAT(v1[1], Catch::Contains("v1.access_context bbbbcccc-1111-dddd-2222-eeee3333ffff"));

  const auto same = policy::config_warnings(test::load_yaml(R"(
tenant_restrictions:
  v2:
    tenant_id: "11111111-2222-3333-4444-555555555555"
    policy_id: "11111111-2222-3333-4444-555555555555"
)"));
  REQUIRE(same.size() == 1);
  CHECK_THAT(same[0], Catch::Contains("policy_id equals tenant_id") && Catch::Contains("AADSTS1000108"));
}

TEST_CASE("warnings: a documented exclusion listed as a sign-in host stays excluded") {
  const auto warnings = policy::config_warnings(test::load_yaml(std::string(own_ids) + R"(
  auth_hosts: [login.microsoftonline.com, device.login.microsoftonline.com]
  msa_hosts: [enterpriseregistration.windows.net]
)"));
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0] ==
        "tenant_restrictions.auth_hosts lists device.login.microsoftonline.com, which is excluded: "
        "it is tunnelled untouched, never intercepted");
  CHECK_THAT(warnings[1], Catch::StartsWith("tenant_restrictions.msa_hosts lists enterpriseregistration.windows.net"));
}
