#include "policy/header_rules.hpp"
#include "policy/policy.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;
using policy::HostClass;

TEST_CASE("v2 inserts the policy header on auth and MSA hosts") {
  const policy::Policy p(test::load_yaml(test::v2_yaml));
  const auto expected =
      "sec-Restrict-Tenant-Access-Policy: "
      "aaaabbbb-0000-cccc-1111-dddd2222eeee:1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\r\n";
  CHECK(p.headers().inserted_block(HostClass::auth) == expected);
  CHECK(p.headers().inserted_block(HostClass::msa) == expected);
  CHECK(p.headers().inserted_block(HostClass::other).empty());
  CHECK(p.headers().inserted_block(HostClass::excluded).empty());
}

TEST_CASE("v1 inserts the tenant list and context on auth hosts and restrict-msa on MSA hosts") {
  const policy::Policy p(test::load_yaml(test::v1_yaml));
  CHECK(p.headers().inserted_block(HostClass::auth) ==
        "Restrict-Access-To-Tenants: contoso.com,fabrikam.onmicrosoft.com,aaaabbbb-0000-cccc-1111-dddd2222eeee\r\n"
        "Restrict-Access-Context: bbbbcccc-1111-dddd-2222-eeee3333ffff\r\n");
  CHECK(p.headers().inserted_block(HostClass::msa) == "sec-Restrict-Tenant-Access-Policy: restrict-msa\r\n");
}

TEST_CASE("v1 without restrict_msa inserts nothing on MSA hosts") {
  auto yaml = std::string(test::v1_yaml);
  yaml.replace(yaml.find("restrict_msa: true"), 18, "restrict_msa: false");
  const policy::Policy p(test::load_yaml(yaml));
  CHECK(p.headers().inserted_block(HostClass::msa).empty());
}

TEST_CASE("a v1 tenant list over 8 KiB is refused, naming the key") {
  std::string tenants;
  for (int i = 0; i < 500; ++i) tenants += (i ? ", " : "") + std::string("tenant") + std::to_string(i) + ".example.com";
  const auto yaml = "tenant_restrictions:\n  v1:\n    allowed_tenants: [" + tenants +
                    "]\n    access_context: bbbbcccc-1111-dddd-2222-eeee3333ffff\n";
  CHECK_THROWS_WITH(policy::Policy(test::load_yaml(yaml)),
                    Catch::Contains("tenant_restrictions.v1.allowed_tenants") && Catch::Contains("8192"));
}

TEST_CASE("the --check summary shows exact header lines and sizes") {
  const policy::Policy p(test::load_yaml(test::v1_yaml));
  const auto text = policy::summarize(p);
  CHECK_THAT(text, Catch::Contains("mode: tenant restrictions v1"));
  CHECK_THAT(text,
             Catch::Contains("Restrict-Access-Context: bbbbcccc-1111-dddd-2222-eeee3333ffff   [63 bytes on the wire]"));
  CHECK_THAT(text, Catch::Contains("sec-Restrict-Tenant-Access-Policy: restrict-msa"));
  CHECK_THAT(text, Catch::Contains("excluded hosts (never intercepted): device.login.microsoftonline.com"));
}
