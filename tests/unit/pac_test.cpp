// The PAC file as a table: which hosts it sends to the proxy, where the rest go, and the host
// name it names the proxy by.

#include "policy/pac.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;

namespace {

// The line of the generated file that decides `host`'s exact-name case.
bool listed_in(const std::string& pac, const char* variable, const char* host) {
  const auto start = pac.find(std::string("var ") + variable + " = {");
  const auto end = pac.find('\n', start);
  return start != std::string::npos &&
         pac.substr(start, end - start).find(std::string("\"") + host + "\": true") != std::string::npos;
}

}  // namespace

TEST_CASE("pac: sign-in and blocked hosts go to the proxy, exclusions and the rest to pac.otherwise") {
  const policy::Policy policy(test::load_yaml(std::string(test::v2_yaml) + "allow: [\"*.partner.example\"]\n"));
  const auto pac = policy::make_pac(policy, "proxy.corp.example", 3128);
  struct Row {
    const char* host;
    const char* list;  // "proxied", "direct" or nullptr (neither: pac.otherwise by default)
  };
  const Row rows[] = {
      {"login.microsoftonline.com", "proxied"},
      {"login.microsoft.com", "proxied"},
      {"login.windows.net", "proxied"},
      {"login.live.com", "proxied"},
      {"onedrive.live.com", "proxied"},  // blocked: the proxy refuses it
      {"device.login.microsoftonline.com", "direct"},
      {"enterpriseregistration.windows.net", "direct"},
      {"www.example.com", nullptr},
  };
  for (const auto& row : rows) {
    CAPTURE(row.host);
    CHECK(listed_in(pac, "proxied", row.host) == (row.list && std::string(row.list) == "proxied"));
    CHECK(listed_in(pac, "direct", row.host) == (row.list && std::string(row.list) == "direct"));
  }
  CHECK_THAT(pac, Catch::Contains("return \"PROXY proxy.corp.example:3128\";"));
  CHECK_THAT(pac, Catch::Contains("if (shExpMatch(host, \"*.partner.example\")) return \"DIRECT\";"));
  CHECK_THAT(pac, Catch::EndsWith("  return \"DIRECT\";\n}\n"));
}

TEST_CASE("pac: pac.proxy and pac.otherwise replace the defaults") {
  const policy::Policy policy(test::load_yaml(
      std::string(test::v2_yaml) + "pac:\n  proxy: \"gw.corp.example:8080\"\n  otherwise: \"PROXY web.corp:3128\"\n"));
  const auto pac = policy::make_pac(policy, "ignored", 1);
  CHECK_THAT(pac, Catch::Contains("return \"PROXY gw.corp.example:8080\";"));
  CHECK_THAT(pac, Catch::EndsWith("  return \"PROXY web.corp:3128\";\n}\n"));
  CHECK(pac.find("ignored") == std::string::npos);
}

TEST_CASE("pac: the proxy is named by the Host the PAC was fetched with, never by raw client bytes") {
  struct Row {
    const char* host_header;
    const char* expected;
  };
  const Row rows[] = {
      {"proxy.corp:9090", "proxy.corp"},
      {"[::1]:3128", "[::1]"},
      {"10.0.0.5", "10.0.0.5"},
      {"", "192.0.2.1"},
      {"a b", "192.0.2.1"},
      {"evil\";alert(1)//", "192.0.2.1"},
      {"user@host", "192.0.2.1"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.host_header);
    CHECK(policy::pac_host_from(row.host_header, "192.0.2.1") == row.expected);
  }
}
