// The name-constrained CA: the RFC 5280 DNS subtree match, what `ca init` writes for a config,
// and what loading a CA demands (start, reload and --check share build_runtime's checks).

#include "tls/name_constraints.hpp"

#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "config/loader.hpp"
#include "test_configs.hpp"
#include "tls/ca.hpp"
#include "tls/ca_checks.hpp"
#include "tls/ca_description.hpp"
#include "tls/leaf.hpp"

using namespace trproxy;
using tls::DnsVerdict;

namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("trproxy-nc-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

config::TenantRestrictions default_hosts() {
  return test::load_yaml(test::v2_yaml).tenant_restrictions;
}

tls::CertificateAuthority make_ca(const std::filesystem::path& dir, const tls::CaOptions& options) {
  tls::CertificateAuthority::create(dir, options);
  return tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key");
}

tls::CaOptions constrained_to(const config::TenantRestrictions& tr) {
  tls::CaOptions options;
  options.constraints = tls::constraints_for(tr);
  return options;
}

// OpenSSL's own chain verifier: the independent judge of what the constraints mean.
int openssl_verify(const tls::CertificateAuthority& ca, X509* leaf) {
  std::unique_ptr<X509_STORE, tls::Deleter<X509_STORE_free>> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.cert());
  tls::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  return X509_verify_cert(ctx.get()) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
}

}  // namespace

TEST_CASE("a DNS name lies in a subtree when it is the subtree or below it (RFC 5280)") {
  struct Case {
    const char* name;
    const char* subtree;
    bool within;
  };
  const Case cases[] = {
      {"login.microsoftonline.com", "login.microsoftonline.com", true},
      {"LOGIN.MicrosoftOnline.COM", "login.microsoftonline.com", true},   // case-insensitive
      {"login.microsoftonline.com.", "login.microsoftonline.com", true},  // trailing dot ignored
      {"login.microsoftonline.com", "login.microsoftonline.com.", true},
      {"device.login.microsoftonline.com", "login.microsoftonline.com", true},  // labels added on the left
      {"a.b.login.microsoftonline.com", "login.microsoftonline.com", true},
      {"evillogin.microsoftonline.com", "login.microsoftonline.com", false},  // not on a label boundary
      {"microsoftonline.com", "login.microsoftonline.com", false},
      {"login.microsoftonline.com.evil.com", "login.microsoftonline.com", false},
      {"www.example.com", "login.microsoftonline.com", false},
      {"login.microsoftonline.com", ".login.microsoftonline.com", false},  // leading dot: strictly below
      {"device.login.microsoftonline.com", ".login.microsoftonline.com", true},
      {"xlogin.microsoftonline.com", ".login.microsoftonline.com", false},
      {"anything.example", "", true},  // an empty subtree holds every name
      {"", "login.live.com", false},
  };
  for (const auto& c : cases) {
    INFO(c.name << " in " << c.subtree);
    CHECK(tls::dns_name_within(c.name, c.subtree) == c.within);
  }
}

TEST_CASE("check_dns_name: excluded beats permitted; no permitted DNS subtree permits every name") {
  tls::NameConstraints nc;
  nc.permitted_dns = {"login.microsoftonline.com", "login.live.com"};
  nc.excluded_dns = {"device.login.microsoftonline.com"};
  struct Case {
    const char* host;
    DnsVerdict verdict;
  };
  const Case cases[] = {
      {"login.microsoftonline.com", DnsVerdict::permitted},
      {"login.live.com", DnsVerdict::permitted},
      {"x.login.live.com", DnsVerdict::permitted},
      {"device.login.microsoftonline.com", DnsVerdict::excluded},
      {"a.device.login.microsoftonline.com", DnsVerdict::excluded},
      {"login.windows.net", DnsVerdict::not_permitted},
      {"www.example.com", DnsVerdict::not_permitted},
  };
  for (const auto& c : cases) {
    INFO(c.host);
    CHECK(tls::check_dns_name(nc, c.host) == c.verdict);
  }
  CHECK(tls::limits_dns_names(nc));

  tls::NameConstraints ip_only;  // constrains addresses, not names
  ip_only.excluded_other = {"IP:0.0.0.0/0"};
  CHECK_FALSE(tls::limits_dns_names(ip_only));
  CHECK(tls::check_dns_name(ip_only, "www.example.com") == DnsVerdict::permitted);
}

TEST_CASE("ca init constraints: the intercepted hosts, the exclusions under them, no IP address") {
  const auto defaults = tls::constraints_for(default_hosts());
  CHECK(defaults.critical);
  CHECK(defaults.permitted_dns == std::vector<std::string>{"login.microsoftonline.com", "login.microsoft.com",
                                                           "login.windows.net", "login.live.com"});
  // enterpriseregistration.windows.net lies under no permitted name, so it needs no exclusion.
  CHECK(defaults.excluded_dns == std::vector<std::string>{"device.login.microsoftonline.com"});
  CHECK(defaults.excluded_other == std::vector<std::string>{"IP:0.0.0.0/0", "IP:::/0"});
  CHECK(tls::to_openssl_conf(defaults) ==
        "critical,permitted;DNS:login.microsoftonline.com,permitted;DNS:login.microsoft.com,"
        "permitted;DNS:login.windows.net,permitted;DNS:login.live.com,"
        "excluded;DNS:device.login.microsoftonline.com,excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::");

  const auto custom = test::load_yaml(R"(
tenant_restrictions:
  v2: {tenant_id: 11111111-2222-3333-4444-555555555555, policy_id: 66666666-7777-8888-9999-000000000000}
  auth_hosts: [login.microsoftonline.com, device.login.microsoftonline.com, sts.windows.net]
  msa_hosts: []
  exclude: [x.sts.windows.net, unrelated.example.com]
)");
  const auto nc = tls::constraints_for(custom.tenant_restrictions);
  // The documented exclusion listed as an auth host stays excluded, so it is not permitted.
  CHECK(nc.permitted_dns == std::vector<std::string>{"login.microsoftonline.com", "sts.windows.net"});
  CHECK(nc.excluded_dns == std::vector<std::string>{"device.login.microsoftonline.com", "x.sts.windows.net"});
}

TEST_CASE("ca init writes the constraints, days and name; loading reads them back") {
  const auto dir = fresh_dir("init");
  auto options = constrained_to(default_hosts());
  options.days = 400;
  options.common_name = "Contoso egress CA";
  const auto ca = make_ca(dir, options);
  REQUIRE(ca.name_constraints());
  CHECK(*ca.name_constraints() == options.constraints);
  CHECK_THAT(ca.subject(), Catch::Contains("CN=Contoso egress CA"));
  const auto days_left = (ca.not_after() - std::time(nullptr)) / (24 * 3600);
  CHECK((days_left == 399 || days_left == 400));
  CHECK((std::filesystem::status(dir / "ca.key").permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK_THROWS_WITH(tls::CertificateAuthority::create(dir, options), Catch::Contains("already exists"));

  const auto description = tls::describe_ca_certificate(dir / "ca.crt");
  CHECK_THAT(description, Catch::Contains("subject: O = trproxy, CN = Contoso egress CA\n"));
  CHECK_THAT(description, Catch::Matches("(.|\n)*sha256_fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}\n(.|\n)*"));
  CHECK_THAT(description, Catch::Matches("(.|\n)*not_after: 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\n(.|\n)*"));
  CHECK_THAT(description, Catch::Contains("key_type: EC P-256\n"));
  CHECK_THAT(description, Catch::Contains("name_constraints: critical\n"));
  CHECK_THAT(description, Catch::Contains("permitted: DNS:login.microsoftonline.com, DNS:login.microsoft.com, "
                                          "DNS:login.windows.net, DNS:login.live.com\n"));
  CHECK_THAT(description, Catch::Contains("excluded: DNS:device.login.microsoftonline.com, IP:0.0.0.0/0, IP:::/0\n"));
  CHECK_THROWS_WITH(tls::describe_ca_certificate(dir / "missing.crt"), Catch::Contains("missing.crt"));
  CHECK_THROWS_WITH(tls::describe_ca_certificate(dir / "ca.key"), Catch::Contains("not a PEM certificate"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("ca init refuses days out of range and a common name over 64 characters") {
  const auto dir = fresh_dir("bounds");
  auto options = constrained_to(default_hosts());
  options.days = 0;
  CHECK_THROWS_WITH(tls::CertificateAuthority::create(dir, options), Catch::Contains("out of range 1..36500"));
  options.days = 36501;
  CHECK_THROWS_AS(tls::CertificateAuthority::create(dir, options), tls::CaError);
  options.days = 10;
  options.common_name = std::string(65, 'x');
  CHECK_THROWS_WITH(tls::CertificateAuthority::create(dir, options), Catch::Contains("--cn"));
  CHECK_FALSE(std::filesystem::exists(dir / "ca.key"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("ca init with a key group writes the key 0640 with that group, else 0600") {
  const auto dir = fresh_dir("group");
  auto options = constrained_to(default_hosts());
  options.key_group = ::getegid();  // a group anyone may give their own file
  make_ca(dir, options);
  struct stat key {};
  REQUIRE(::stat((dir / "ca.key").c_str(), &key) == 0);
  CHECK((key.st_mode & 07777) == 0640);
  CHECK(key.st_gid == ::getegid());
  std::filesystem::remove_all(dir);

  make_ca(dir, constrained_to(default_hosts()));
  REQUIRE(::stat((dir / "ca.key").c_str(), &key) == 0);
  CHECK((key.st_mode & 07777) == 0600);
  std::filesystem::remove_all(dir);
}

TEST_CASE("OpenSSL's verifier accepts a leaf for a permitted host and refuses any other") {
  const auto dir = fresh_dir("verify");
  const auto ca = make_ca(dir, constrained_to(default_hosts()));
  const auto key = tls::generate_leaf_key(config::LeafKeyType::ec_p256);
  const auto now = std::time(nullptr);
  const auto verify = [&](const char* host) {
    return openssl_verify(ca, tls::mint_leaf(ca, key, config::LeafKeyType::ec_p256, host, now)->cert.get());
  };
  CHECK(verify("login.microsoftonline.com") == X509_V_OK);
  CHECK(verify("login.live.com") == X509_V_OK);
  CHECK(verify("www.example.com") == X509_V_ERR_PERMITTED_VIOLATION);
  CHECK(verify("device.login.microsoftonline.com") == X509_V_ERR_EXCLUDED_VIOLATION);
  CHECK(verify("20.190.128.1") == X509_V_ERR_EXCLUDED_VIOLATION);
  CHECK(verify("2603:1006:2000::1") == X509_V_ERR_EXCLUDED_VIOLATION);
  std::filesystem::remove_all(dir);
}

TEST_CASE("loading a CA that does not permit an intercepted host is an error naming the host") {
  const auto dir = fresh_dir("narrow");
  const auto ca = make_ca(dir, constrained_to(default_hosts()));
  const auto cert = dir / "ca.crt";
  CHECK_NOTHROW(tls::require_permits_intercepted_hosts(ca, cert, default_hosts()));

  auto wider = default_hosts();
  wider.auth_hosts.push_back("login2.microsoftonline.com");
  CHECK_THROWS_WITH(tls::require_permits_intercepted_hosts(ca, cert, wider),
                    Catch::Contains(cert.string()) && Catch::Contains("do not permit login2.microsoftonline.com") &&
                        Catch::Contains("an auth host") && Catch::Contains("not permitted"));
  auto msa = default_hosts();
  msa.msa_hosts.push_back("account.live.com");
  CHECK_THROWS_WITH(tls::require_permits_intercepted_hosts(ca, cert, msa),
                    Catch::Contains("account.live.com (an MSA host"));
  // A subdomain of a permitted name is permitted, unless excluded.
  auto below = default_hosts();
  below.auth_hosts.push_back("eu.login.microsoftonline.com");
  CHECK_NOTHROW(tls::require_permits_intercepted_hosts(ca, cert, below));
  CHECK(tls::ca_warnings(ca, cert, std::time(nullptr)).empty());
  // An app host the CA was not made for (issue 21): named, as an app host.
  CHECK_THROWS_WITH(tls::require_permits_intercepted_hosts(ca, cert, default_hosts(), {"*.slack.com"}),
                    Catch::Contains("do not permit *.slack.com (an app host, not permitted)") &&
                        Catch::Contains("trproxy ca init --config"));
  std::filesystem::remove_all(dir);
  // A CA made for the apps too permits them, a wildcard as its subtree.
  const auto apps_dir = fresh_dir("apps");
  const std::vector<std::string> apps{"github.com", "api.github.com", "*.slack.com"};
  tls::CaOptions with_apps;
  with_apps.constraints = tls::constraints_for(default_hosts(), apps);
  const auto apps_ca = make_ca(apps_dir, with_apps);
  CHECK_NOTHROW(tls::require_permits_intercepted_hosts(apps_ca, apps_dir / "ca.crt", default_hosts(), apps));
  std::filesystem::remove_all(apps_dir);
}

TEST_CASE("an unconstrained CA loads with a warning; so does one that expires within 30 days") {
  const auto dir = fresh_dir("unconstrained");
  tls::CaOptions options;  // no subtree: no nameConstraints extension at all
  options.days = 29;
  const auto ca = make_ca(dir, options);
  CHECK_FALSE(ca.name_constraints());
  const auto cert = dir / "ca.crt";
  CHECK_NOTHROW(tls::require_permits_intercepted_hosts(ca, cert, default_hosts()));
  const auto warnings = tls::ca_warnings(ca, cert, std::time(nullptr));
  REQUIRE(warnings.size() == 2);
  CHECK_THAT(warnings[0], Catch::Contains(cert.string()) && Catch::Contains("no name constraints limiting DNS"));
  CHECK_THAT(warnings[1], Catch::Contains("within 30 days"));
  CHECK(tls::ca_warnings(ca, cert, ca.not_after() - 31L * 24 * 3600).size() == 1);
  CHECK_THAT(tls::describe_ca_certificate(cert), Catch::Contains("name_constraints: none\npermitted: (none)\n"));

  // Constraints on addresses only still leave every DNS name: the same warning.
  const auto ip_dir = fresh_dir("ip-only");
  tls::CaOptions ip_only;
  ip_only.constraints.excluded_other = {"IP:0.0.0.0/0"};
  const auto ip_ca = make_ca(ip_dir, ip_only);
  REQUIRE(ip_ca.name_constraints());
  CHECK(ip_ca.name_constraints()->excluded_other == std::vector<std::string>{"IP:0.0.0.0/0"});
  CHECK(tls::ca_warnings(ip_ca, ip_dir / "ca.crt", std::time(nullptr)).size() == 1);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(ip_dir);
}
