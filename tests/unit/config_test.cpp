#include "config/loader.hpp"
#include "config/syntax.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

using namespace trproxy::config;

namespace {

const char* const minimal_v2 = R"(
tenant_restrictions:
  v2:
    tenant_id: "aaaabbbb-0000-cccc-1111-dddd2222eeee"
    policy_id: "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5"
)";

Config load(const std::string& yaml) {
  return load_config_text(yaml, "/etc/trproxy");
}

std::string error_of(const std::string& yaml) {
  try {
    load(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string v2_with(const std::string& extra) {
  return std::string(minimal_v2) + extra;
}

}  // namespace

TEST_CASE("a minimal v2 config gets the documented defaults") {
  const auto c = load(minimal_v2);
  REQUIRE(c.listen.size() == 1);
  CHECK(c.listen[0].host == "0.0.0.0");
  CHECK(c.listen[0].port == 3128);
  CHECK(c.threads == 0);
  CHECK(c.clients_allow.size() == 6);
  CHECK(c.ca.cert == "/etc/trproxy/certs/ca.crt");
  CHECK(c.ca.key == "/etc/trproxy/certs/ca.key");
  CHECK(c.ca.leaf_key == LeafKeyType::ec_p256);
  CHECK(c.upstream.trusts_system());
  CHECK(c.upstream.connect_timeout == std::chrono::seconds(10));
  CHECK(c.tenant_restrictions.mode == Mode::v2);
  CHECK(c.tenant_restrictions.v2.tenant_id == "aaaabbbb-0000-cccc-1111-dddd2222eeee");
  CHECK(c.tenant_restrictions.auth_hosts ==
        std::vector<std::string>{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net"});
  CHECK(c.tenant_restrictions.msa_hosts == std::vector<std::string>{"login.live.com"});
  CHECK(c.tenant_restrictions.exclude ==
        std::vector<std::string>{"device.login.microsoftonline.com", "enterpriseregistration.windows.net"});
  CHECK(c.block.empty());
  REQUIRE(c.admin.listen);
  CHECK(c.admin.listen->to_string() == "127.0.0.1:9090");
  CHECK(c.log.level == LogLevel::info);
  CHECK(c.log.access == "-");
}

TEST_CASE("the full documented example loads") {
  const auto c = load(R"(
listen: "0.0.0.0:3128"
threads: 0
clients:
  allow: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
ca:
  cert: certs/ca.crt
  key: certs/ca.key
  leaf_key: rsa-2048
upstream:
  trust: system
  resolve: {"LOGIN.microsoftonline.com.": "127.0.0.1:8443"}
  connect_timeout: 250ms
tenant_restrictions:
  v1:
    allowed_tenants: [contoso.com, fabrikam.onmicrosoft.com, aaaabbbb-0000-cccc-1111-dddd2222eeee]
    access_context: "bbbbcccc-1111-dddd-2222-eeee3333ffff"
    restrict_msa: true
  auth_hosts: [login.microsoftonline.com, login.microsoft.com, login.windows.net]
  msa_hosts: [login.live.com]
  exclude: [device.login.microsoftonline.com, enterpriseregistration.windows.net, extra.example.com]
block: [onedrive.live.com]
admin:
  listen: ""
log:
  level: debug
  access: logs/access.log
)");
  CHECK(c.ca.leaf_key == LeafKeyType::rsa_2048);
  CHECK(c.upstream.connect_timeout == std::chrono::milliseconds(250));
  REQUIRE(c.upstream.resolve.count("login.microsoftonline.com") == 1);
  CHECK(c.upstream.resolve.at("login.microsoftonline.com").port == 8443);
  CHECK(c.tenant_restrictions.mode == Mode::v1);
  CHECK(c.tenant_restrictions.v1.allowed_tenants.size() == 3);
  CHECK(c.tenant_restrictions.v1.restrict_msa);
  CHECK(c.tenant_restrictions.exclude.size() == 3);
  CHECK(c.block == std::vector<std::string>{"onedrive.live.com"});
  CHECK_FALSE(c.admin.listen);
  CHECK(c.log.level == LogLevel::debug);
  CHECK(c.log.access == "/etc/trproxy/logs/access.log");
}

TEST_CASE("config errors name the key and the value") {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"tenant_restrictions:\n  v2:\n    tenant_id: abc\n    policy_id: 1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\n",
       "tenant_restrictions.v2.tenant_id: \"abc\" is not a GUID"},
      {"tenant_restrictions:\n  v2:\n    tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee\n    policy_id: nope\n",
       "tenant_restrictions.v2.policy_id: \"nope\" is not a GUID"},
      {"tenant_restrictions:\n  v2:\n    tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee\n",
       "tenant_restrictions.v2.policy_id: missing"},
      {"listen: \":3128\"\n", "listen: \":3128\" is not an IP address and port"},
      {"listen: \"127.0.0.1:99999\"\n", "listen: \"127.0.0.1:99999\" is not an IP address and port"},
      {"listen: \"localhost:3128\"\n", "listen: \"localhost:3128\" is not an IP address"},
      {"threads: -1\n", "threads: \"-1\" is not a whole number"},
      {"threads: 1000\n", "threads: \"1000\" is out of range"},
      {"clients:\n  allow: [\"10.0.0.1/8\"]\n", "clients.allow[0]: \"10.0.0.1/8\" is not an address prefix"},
      {"clients:\n  allow: [\"10.0.0.0/33\"]\n", "clients.allow[0]: \"10.0.0.0/33\" is not an address prefix"},
      {"clients:\n  alow: []\n", "clients.alow: unknown key"},
      {"ca:\n  leaf_key: ed25519\n", "ca.leaf_key: \"ed25519\" is not ec-p256 or rsa-2048"},
      {"upstream:\n  connect_timeout: 10\n", "upstream.connect_timeout: \"10\" is not a duration"},
      {"upstream:\n  connect_timeout: 0s\n", "upstream.connect_timeout: \"0s\" is not a duration"},
      {"upstream:\n  connect_timeout: 1.5s\n", "upstream.connect_timeout: \"1.5s\" is not a duration"},
      {"upstream:\n  resolve: {\"login.microsoftonline.com\": \"nowhere\"}\n",
       "upstream.resolve.login.microsoftonline.com: \"nowhere\" is not an IP address"},
      {"upstream:\n  resolve: {\"bad host\": \"127.0.0.1:1\"}\n", "\"bad host\" is not a DNS host name"},
      {"tenant_restriction:\n  v2: {}\n", "tenant_restriction: unknown key"},
      {"block: [\"évil.com\"]\n", "block[0]: \"évil.com\" is not a host name or a \"*.\" wildcard"},
      {"block: [\"*évil.com\"]\n", "block[0]: \"*évil.com\" is not a host name or a \"*.\" wildcard"},
      {"allow: [\"*.*.com\"]\n", "allow[0]: \"*.*.com\" is not a host name or a \"*.\" wildcard"},
      {"block: [login.microsoftonline.com]\n",
       "block: \"login.microsoftonline.com\" matches the sign-in host login.microsoftonline.com"},
      {"block: [\"*.microsoftonline.com\"]\n",
       "block: \"*.microsoftonline.com\" matches the sign-in host login.microsoftonline.com"},
      {"sign_in_guard: {action: drop}\n", "sign_in_guard.action: \"drop\" is not one of refuse, log"},
      {"sign_in_guard: {addresses: [20.190.128.1/18]}\n", "sign_in_guard.addresses[0]: \"20.190.128.1/18\""},
      {"egress: {connect_ports: [\"443-80\"]}\n", "egress.connect_ports[0]: \"443-80\" is not a port or a port range"},
      {"egress: {deny: [\"10.0.0.1/8\"]}\n", "egress.deny[0]: \"10.0.0.1/8\""},
      {"limits: {drain_delay: 5}\n", "limits.drain_delay: \"5\" is not a duration"},
      {"  exclude: [login.windows.net]\n",
       "tenant_restrictions.exclude: \"login.windows.net\" is also intercepted (in tenant_restrictions.auth_hosts)"},
      {"  msa_hosts: [login.live.com]\n  exclude: [LOGIN.live.com.]\n",
       "tenant_restrictions.exclude: \"login.live.com\" is also intercepted (in tenant_restrictions.msa_hosts)"},
      {"admin:\n  listen: 9090\n", "admin.listen: \"9090\" is not an IP address and port"},
      {"log:\n  level: verbose\n", "log.level: \"verbose\" is not one of trace, debug, info, warn, error"},
      {"log: [a]\n", "log: expected a mapping of keys"},
      {"limits:\n  head_timeout: forever\n", "limits.head_timeout: \"forever\" is not a duration"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    const auto yaml = c.yaml.rfind("tenant_restrictions", 0) == 0 || c.yaml.rfind("tenant_restriction:", 0) == 0
                          ? c.yaml
                          : v2_with(c.yaml);
    const auto message = error_of(yaml);
    CHECK_THAT(message, Catch::Contains(c.expected));
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("tenant_restrictions needs exactly one mode") {
  CHECK_THAT(error_of("listen: \"127.0.0.1:1\"\n"), Catch::Contains("tenant_restrictions: missing"));
  CHECK_THAT(error_of("tenant_restrictions:\n  auth_hosts: [a.example.com]\n"),
             Catch::Contains("tenant_restrictions: needs exactly one of v1 or v2"));
  CHECK_THAT(error_of(R"(
tenant_restrictions:
  v1: {allowed_tenants: [contoso.com], access_context: bbbbcccc-1111-dddd-2222-eeee3333ffff}
  v2: {tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee, policy_id: 1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5}
)"),
             Catch::Contains("has both v1 and v2"));
  CHECK_THAT(error_of("tenant_restrictions:\n  v1: {allowed_tenants: [], access_context: "
                      "bbbbcccc-1111-dddd-2222-eeee3333ffff}\n"),
             Catch::Contains("tenant_restrictions.v1.allowed_tenants: expected at least one tenant"));
  CHECK_THAT(error_of("tenant_restrictions:\n  v1: {allowed_tenants: [\"not a tenant\"], access_context: "
                      "bbbbcccc-1111-dddd-2222-eeee3333ffff}\n"),
             Catch::Contains("allowed_tenants[0]: \"not a tenant\" is neither a domain name nor a tenant GUID"));
  CHECK_THAT(error_of("tenant_restrictions:\n  v1: {allowed_tenants: [contoso.com], access_context: contoso.com}\n"),
             Catch::Contains("tenant_restrictions.v1.access_context: \"contoso.com\" is not a GUID"));
  CHECK_THAT(error_of("tenant_restrictions:\n  v1: {allowed_tenants: [contoso.com], access_context: "
                      "bbbbcccc-1111-dddd-2222-eeee3333ffff, restrict_msa: yes}\n"),
             Catch::Contains("restrict_msa: \"yes\" is not true or false"));
  CHECK_THAT(error_of(v2_with("  auth_hosts: []\n")), Catch::Contains("auth_hosts: expected at least one host"));
  CHECK_THAT(error_of(v2_with("  msa_hosts: [login.windows.net]\n")), Catch::Contains("is also listed in auth_hosts"));
}

TEST_CASE("a documented exclusion listed as a sign-in host loads: the exclusion wins") {
  const auto c = load(v2_with("  auth_hosts: [login.microsoftonline.com, device.login.microsoftonline.com]\n"));
  CHECK(intercepted_hosts(c.tenant_restrictions) ==
        std::vector<std::string>{"login.microsoftonline.com", "login.live.com"});
}

TEST_CASE("exclude only adds to the documented exclusions") {
  const auto c = load(v2_with("  exclude: [other.example.com]\n"));
  CHECK(c.tenant_restrictions.exclude == std::vector<std::string>{"device.login.microsoftonline.com",
                                                                  "enterpriseregistration.windows.net",
                                                                  "other.example.com"});
  const auto none = load(v2_with("  exclude: []\n"));
  CHECK(none.tenant_restrictions.exclude.size() == 2);
}

TEST_CASE("host lists are normalised") {
  const auto c = load(v2_with("  auth_hosts: [LOGIN.MicrosoftOnline.com., login.microsoftonline.com]\n"));
  CHECK(c.tenant_restrictions.auth_hosts == std::vector<std::string>{"login.microsoftonline.com"});
}

TEST_CASE("yaml syntax errors are one line") {
  const auto message = error_of("tenant_restrictions: [\n");
  CHECK_THAT(message, Catch::Contains("YAML syntax error at line"));
  CHECK(message.find('\n') == std::string::npos);
  CHECK_THAT(error_of(""), Catch::Contains("config: is empty"));
}

TEST_CASE("listen accepts IPv6 and several addresses") {
  const auto c = load(v2_with("listen: [\"127.0.0.1:3128\", \"[::1]:3128\"]\n"));
  REQUIRE(c.listen.size() == 2);
  CHECK(c.listen[1].host == "::1");
  CHECK(c.listen[1].to_string() == "[::1]:3128");
}

TEST_CASE("a config file resolves paths against its folder") {
  const auto dir = std::filesystem::temp_directory_path() / "trproxy-config-test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "t.yaml";
  std::ofstream(file) << v2_with("ca:\n  cert: ../x/ca.crt\n  key: /abs/ca.key\nupstream:\n  trust: bundle.pem\n");
  const auto c = load_config_file(file);
  CHECK(c.ca.cert == dir.parent_path() / "x/ca.crt");
  CHECK(c.ca.key == "/abs/ca.key");
  CHECK(c.upstream.trust_bundle == dir / "bundle.pem");
  CHECK(c.source == std::filesystem::absolute(file));
  CHECK_THROWS_WITH(load_config_file(dir / "missing.yaml"), Catch::Contains("cannot read"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("syntax helpers") {
  CHECK(rfc3339_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(rfc3339_utc(2'082'758'399) == "2035-12-31T23:59:59Z");
  CHECK(is_guid("aaaabbbb-0000-cccc-1111-dddd2222eeee"));
  CHECK(is_guid("AAAABBBB-0000-CCCC-1111-DDDD2222EEEE"));
  CHECK_FALSE(is_guid("aaaabbbb-0000-cccc-1111-dddd2222eee"));
  CHECK_FALSE(is_guid("aaaabbbb00000-cccc-1111-dddd2222eeee"));
  CHECK_FALSE(is_guid("gaaabbbb-0000-cccc-1111-dddd2222eeee"));
  CHECK(is_domain_name("contoso.com"));
  CHECK(is_domain_name("contoso.com."));
  CHECK(is_domain_name("a-b.c0.example"));
  CHECK_FALSE(is_domain_name("localhost"));
  CHECK_FALSE(is_domain_name("-a.com"));
  CHECK_FALSE(is_domain_name("a-.com"));
  CHECK_FALSE(is_domain_name("a..com"));
  CHECK_FALSE(is_domain_name("a_b.com"));
  // 64-byte label; built with append: GCC 12 warns (-Warray-bounds, a false positive) on
  // `std::string(n, c) + ".com"` here once Catch2 comes from the precompiled header.
  CHECK_FALSE(is_domain_name(std::string(64, 'a').append(".com")));
  CHECK_FALSE(is_domain_name("xn--\xc3\xa9.com"));
  CHECK(normalize_host("LOGIN.Live.COM.") == "login.live.com");
  CHECK(parse_duration("250ms") == std::chrono::milliseconds(250));
  CHECK(parse_duration("2m") == std::chrono::minutes(2));
  CHECK(parse_duration("1h") == std::chrono::hours(1));
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("1 s"));
  CHECK_FALSE(parse_duration("ms"));
}

TEST_CASE("deployment keys: proxy_protocol, upstream.proxy, pac, watch_files") {
  const auto defaults = load(minimal_v2);
  CHECK(defaults.proxy_protocol.trusted.empty());
  CHECK_FALSE(defaults.upstream.proxy);
  CHECK_FALSE(defaults.pac.proxy);
  CHECK(defaults.pac.otherwise == "DIRECT");
  CHECK(defaults.watch_files);

  const auto c = load(v2_with(R"(
proxy_protocol:
  trusted: ["10.1.0.0/16", "fd00::/8"]
upstream:
  proxy: "Gateway.Corp.Example.:8080"
pac:
  proxy: "proxy.corp.example:80"
  otherwise: "PROXY gw.corp.example:8080 ;SOCKS5 [2001:db8::1]:1080;  DIRECT"
watch_files: false
)"));
  REQUIRE(c.proxy_protocol.trusted.size() == 2);
  CHECK(c.proxy_protocol.trusts(*parse_ip("10.1.2.3")));
  CHECK_FALSE(c.proxy_protocol.trusts(*parse_ip("10.2.0.1")));
  REQUIRE(c.upstream.proxy);
  CHECK(c.upstream.proxy->to_string() == "gateway.corp.example:8080");
  REQUIRE(c.pac.proxy);
  CHECK(c.pac.proxy->to_string() == "proxy.corp.example:80");
  CHECK(c.pac.otherwise == "PROXY gw.corp.example:8080; SOCKS5 [2001:db8::1]:1080; DIRECT");
  CHECK_FALSE(c.watch_files);
  CHECK_FALSE(load(v2_with("upstream:\n  proxy: \"\"\n")).upstream.proxy);

  const std::pair<std::string, std::string> errors[] = {
      {"proxy_protocol:\n  trusted: [\"10.0.0.1/8\"]\n",
       "proxy_protocol.trusted[0]: \"10.0.0.1/8\" is not an address prefix"},
      {"proxy_protocol:\n  trust: []\n", "proxy_protocol.trust: unknown key"},
      {"upstream:\n  proxy: \"gw.corp\"\n", "upstream.proxy: \"gw.corp\" is not a host and port"},
      {"upstream:\n  proxy: \"gw corp:8080\"\n", "upstream.proxy: \"gw corp:8080\" is not a host and port"},
      {"upstream:\n  proxy: \"http://gw:8080\"\n", "upstream.proxy: \"http://gw:8080\" is not a host and port"},
      {"pac:\n  proxy: \"a\\\"b:80\"\n", "pac.proxy: \"a\"b:80\" is not a host and port"},
      {"pac:\n  otherwise: \"\"\n", "pac.otherwise: \"\" is not a PAC result"},
      {"pac:\n  otherwise: \"direct\"\n", "pac.otherwise: \"direct\" is not a PAC result"},
      {"pac:\n  otherwise: \"PROXY gw:8080\\\"; alert(1); \\\"\"\n", "is not a PAC result"},
      {"pac:\n  otherwise: \"PROXY gw\"\n", "pac.otherwise: \"PROXY gw\" is not a PAC result"},
      {"pac:\n  otherwise: \"HTTP gw:80\"\n", "pac.otherwise: \"HTTP gw:80\" is not a PAC result"},
      {"pac:\n  other: DIRECT\n", "pac.other: unknown key"},
      {"watch_files: yes\n", "watch_files: \"yes\" is not true or false"},
  };
  for (const auto& [yaml, expected] : errors) {
    INFO(yaml);
    CHECK_THAT(error_of(v2_with(yaml)), Catch::Matchers::Contains(expected));
  }
}

namespace {

std::string placed_error_of(const std::string& yaml) {
  try {
    load_config_text(yaml, "/etc/trproxy", "trproxy.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("config errors from a place in the file start with FILE:LINE") {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  // minimal_v2 starts with a blank line: tenant_restrictions is line 2, policy_id line 5.
  const Case cases[] = {
      {v2_with("threads: four\n"), "trproxy.yaml:6: threads: \"four\" is not a whole number"},
      {v2_with("limits:\n  max_connections: 10\n  idle_timout: 5s\n"),
       "trproxy.yaml:8: limits.idle_timout: unknown key"},
      {v2_with("limits:\n  max_connections: 10\n  max_connections_per_client: 11\n"),
       "trproxy.yaml:8: limits.max_connections_per_client: must not exceed limits.max_connections (10)"},
      {v2_with("limits:\n  max_connections_per_client: 0\n"), "trproxy.yaml:7: limits.max_connections_per_client:"},
      {v2_with("clients:\n  allow:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n"),
       "trproxy.yaml:9: clients.allow[1]: \"10.0.0.0/33\" is not an address prefix"},
      {v2_with("upstream:\n  resolve:\n    login.live.com: nowhere\n"),
       "trproxy.yaml:8: upstream.resolve.login.live.com: \"nowhere\" is not an IP address"},
      {std::string(minimal_v2).replace(std::string(minimal_v2).find("1aaaaaa1"), 8, "zzzzzzzz"),
       "trproxy.yaml:5: tenant_restrictions.v2.policy_id: \"zzzzzzzz-2bb2-3cc3-4dd4-5eeeeeeeeee5\" is not a GUID"},
      {"\ntenant_restrictions:\n  v2:\n    tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee\n",
       "trproxy.yaml:3: tenant_restrictions.v2.policy_id: missing"},
      {v2_with("log:\n  format: xml\n"), "trproxy.yaml:7: log.format: \"xml\" is not one of text, json"},
      {v2_with("block: [a.example.com, login.live.com]\n"),
       "trproxy.yaml:6: block: \"login.live.com\" matches the sign-in host login.live.com"},
      {v2_with("listen: [\"127.0.0.1:1\"\n"), "trproxy.yaml:"},  // a YAML syntax error has a place too
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    CHECK_THAT(placed_error_of(c.yaml), Catch::StartsWith(c.expected));
  }
  // No place, no prefix: the error is about the file as a whole.
  CHECK(placed_error_of("") == "config: is empty; tenant_restrictions is required");
  CHECK(placed_error_of("listen: \"127.0.0.1:1\"\n") == "tenant_restrictions: missing");
  // Without a source name (text loaded in tests), no prefix either.
  CHECK(error_of(v2_with("threads: four\n")) == "threads: \"four\" is not a whole number");
}

TEST_CASE("log.format is text or json") {
  CHECK(load(minimal_v2).log.format == LogFormat::text);
  CHECK(load(v2_with("log:\n  format: json\n")).log.format == LogFormat::json);
  CHECK(load(v2_with("log:\n  format: text\n")).log.format == LogFormat::text);
}

TEST_CASE("a config file that cannot be read names the OS error") {
  try {
    load_config_file("/nonexistent-dir/trproxy.yaml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "config: cannot read \"/nonexistent-dir/trproxy.yaml\": No such file or directory");
  }
}

TEST_CASE("tls.ticket_keys: a key file, relative to the config's folder; absent means generated keys") {
  CHECK(load(minimal_v2).tls.ticket_keys.empty());
  CHECK(load(v2_with("tls:\n  ticket_keys: secrets/tickets.keys\n")).tls.ticket_keys ==
        "/etc/trproxy/secrets/tickets.keys");
  CHECK(load(v2_with("tls:\n  ticket_keys: /run/keys/t\n")).tls.ticket_keys == "/run/keys/t");
  CHECK(load(v2_with("tls:\n  ticket_keys: \"\"\n")).tls.ticket_keys.empty());
  CHECK_THAT(error_of(v2_with("tls:\n  ticket_key: x\n")), Catch::Matchers::Contains("tls.ticket_key: unknown key"));
  CHECK_THAT(error_of(v2_with("tls:\n  ticket_keys: [a, b]\n")), Catch::Matchers::Contains("tls.ticket_keys"));
}
