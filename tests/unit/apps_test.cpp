// Issue 21: SaaS app tenant controls. Config tables (every value kind refused with its key and
// line), host classification, the decisions, and the rewrite's strip-then-insert.

#include "config/app_catalog.hpp"
#include "config/loader.hpp"
#include "decision_helpers.hpp"
#include "policy/connect_decision.hpp"
#include "policy/pac.hpp"
#include "policy/policy.hpp"
#include "policy/request_decision.hpp"
#include "policy/rewrite.hpp"
#include "test_configs.hpp"
#include "tls/name_constraints.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy;
using policy::HelloKind;
using policy::HostClass;

namespace {

const std::string uuid_a = "0f0e0d0c-0b0a-4909-8807-060504030201";
const std::string uuid_b = "1f0e0d0c-0b0a-4909-8807-060504030201";

std::string with_apps(const std::string& apps) {
  return std::string(test::v2_yaml) + "apps:\n" + apps;
}

const std::string every_app = with_apps(
    "  github:  { enterprises: [octo-corp, '4242'] }\n"
    "  google:  { domains: [Contoso.com, contoso.org] }\n"
    "  slack:   { requester: T0123ABCD, workspaces: [T0123ABCD, E0456EFGH] }\n"
    "  dropbox: { teams: ['dbtid:AAC1234567890'] }\n"
    "  youtube: { restrict: strict }\n"
    "  chatgpt: { workspaces: [" +
    uuid_a +
    "] }\n"
    "  claude:  { organizations: [" +
    uuid_a + ", " + uuid_b +
    "] }\n"
    "  webex:   { domains: [contoso.com] }\n"
    "  custom:\n"
    "    - name: intranet-saas\n"
    "      hosts: [saas.example.com, '*.saas.example.com']\n"
    "      headers: { X-Example-Allowed-Tenant: corp }\n");

}  // namespace

TEST_CASE("apps: every built-in app and a custom one load, values as the vendors spell them") {
  const auto config = test::load_yaml(every_app);
  REQUIRE(config.apps.size() == 9);
  const auto header = [&](std::string_view app, std::size_t i) {
    for (const auto& a : config.apps)
      if (a.name == app) return a.headers.at(i).name + ": " + a.headers.at(i).value;
    return std::string("(none)");
  };
  CHECK(header("github", 0) == "sec-GitHub-allowed-enterprise: octo-corp,4242");
  CHECK(header("google", 0) == "X-GoogApps-Allowed-Domains: contoso.com,contoso.org");
  CHECK(header("slack", 0) == "X-Slack-Allowed-Workspaces-Requester: T0123ABCD");
  CHECK(header("slack", 1) == "X-Slack-Allowed-Workspaces: T0123ABCD,E0456EFGH");
  CHECK(header("dropbox", 0) == "X-Dropbox-allowed-Team-Ids: dbtid:AAC1234567890");
  CHECK(header("youtube", 0) == "YouTube-Restrict: Strict");
  CHECK(header("chatgpt", 0) == "ChatGPT-Allowed-Workspace-Id: " + uuid_a);
  CHECK(header("claude", 0) == "anthropic-allowed-org-ids: " + uuid_a + "," + uuid_b);
  CHECK(header("webex", 0) == "CiscoSpark-Allowed-Domains: contoso.com");
  CHECK(header("intranet-saas", 0) == "X-Example-Allowed-Tenant: corp");
  // No apps: nothing beyond the Entra hosts.
  CHECK(test::load_yaml(test::v2_yaml).apps.empty());
}

TEST_CASE("apps: a bad value is a config error naming the key and its line") {
  struct Row {
    std::string apps;
    std::string message;
  };
  const std::vector<Row> rows{
      {"  github: { enterprises: [] }\n", "trproxy.yaml:8: apps.github.enterprises: expected at least one value"},
      {"  github: { enterprises: [Octo Corp] }\n", "apps.github.enterprises[0]: \"Octo Corp\" is not a GitHub"},
      {"  github: { enterprises: [-octo] }\n", "is not a GitHub enterprise slug"},
      {"  github: { enterprises: [octo, octo] }\n", "apps.github.enterprises[1]: \"octo\" is listed twice"},
      {"  github: { enterprises: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u] }\n",
       "has 21 values; the vendor takes at most 20"},
      {"  github: {}\n", "apps.github.enterprises: missing"},
      {"  github: { enterprise: [octo] }\n", "apps.github.enterprise: unknown key"},
      {"  google: { domains: [\"contoso\"] }\n", "is not a domain name"},
      {"  google: { domains: [contoso.com, CONTOSO.com] }\n", "is listed twice"},
      {"  slack: { requester: t0123abcd, workspaces: [T0123ABCD] }\n",
       "apps.slack.requester: \"t0123abcd\" is not a Slack"},
      {"  slack: { requester: T0123ABCD, workspaces: [X0123ABCD] }\n", "apps.slack.workspaces[0]"},
      {"  slack: { workspaces: [T0123ABCD] }\n", "apps.slack.requester: missing"},
      {"  slack: { requester: [T0123ABCD], workspaces: [T0123ABCD] }\n",
       "apps.slack.requester: expected a single value"},
      {"  dropbox: { teams: [AAC1234567890] }\n", "is not a Dropbox team ID"},
      {"  youtube: { restrict: strictest }\n", "is not strict or moderate"},
      {"  youtube: { restrict: \"\" }\n", "is not strict or moderate"},
      {"  chatgpt: { workspaces: [not-a-uuid] }\n", "is not a UUID"},
      {"  claude: { organizations: [\"\"] }\n", "is not a UUID"},
      {"  webex: { domains: [\"contoso..com\"] }\n", "is not a domain name"},
      {"  zoom: { domains: [contoso.com] }\n", "apps.zoom: unknown app"},
      {"  github: { enterprises: [octo], hosts: [] }\n", "apps.github.hosts: expected at least one host"},
      {"  github: { enterprises: [octo], hosts: [login.microsoftonline.com] }\n",
       "covers login.microsoftonline.com, a Microsoft sign-in or excluded host"},
      {"  custom: [{name: ms, hosts: ['*.microsoftonline.com'], headers: {X-A: b}}]\n",
       "covers login.microsoftonline.com"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {}}]\n", "expected a mapping of at least one header"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {X-A: \" b\"}}]\n", "is not a header value"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {\"X A\": b}}]\n", "is not a header field name"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {Host: b}}]\n", "is a field the proxy handles itself"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {Restrict_Access_Context: b}}]\n",
       "is a field the proxy handles itself"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {X-A: b, x_a: c}}]\n", "is named twice"},
      {"  custom: [{name: github, hosts: [x.example.com], headers: {X-A: b}}]\n", "is a built-in app"},
      {"  custom: [{name: x, hosts: [x.example.com], headers: {X-A: b}}, {name: x, hosts: [y.example.com], "
       "headers: {X-A: b}}]\n",
       "is already an app's name"},
      {"  custom: [{name: x, headers: {X-A: b}}]\n", "apps.custom[0].hosts: missing"},
      {"  github: { enterprises: [octo] }\n  custom: [{name: x, hosts: ['*.github.com'], headers: {X-A: b}}]\n",
       "apps.custom[0].hosts: \"*.github.com\" is also a host of apps.github (api.github.com); a host belongs to "
       "one app"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.apps);
    CHECK_THAT(test::config_error(with_apps(row.apps)), Catch::Contains(row.message));
  }
  // A profile's app with other hosts than the top level's.
  const auto profile_yaml = with_apps("  github: { enterprises: [octo] }\n") +
                            "profiles:\n  - name: eng\n    clients: [10.0.0.0/8]\n    v2: {tenant_id: "
                            "aaaabbbb-0000-cccc-1111-dddd2222eeee, policy_id: 1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5}\n"
                            "    apps: { github: { enterprises: [eng], hosts: [github.com] } }\n";
  CHECK_THAT(test::config_error(profile_yaml),
             Catch::Contains("profiles[0].apps.github.hosts: differ from the hosts of"));
}

TEST_CASE("apps: hosts classify as their app; exact names, wildcards, Entra and blocks keep precedence") {
  auto blocking = every_app;
  blocking.replace(blocking.find("block: [onedrive.live.com]"), 26, "block: [gist.github.com, ads.google.com]");
  const policy::Policy policy(test::load_yaml(blocking));
  struct Row {
    const char* host;
    HostClass host_class;
    const char* app;
  };
  const Row rows[] = {
      {"github.com", HostClass::app, "github"},
      {"API.GitHub.com.", HostClass::app, "github"},
      {"copilot-proxy.githubcopilot.com", HostClass::app, "github"},
      {"githubcopilot.com", HostClass::other, ""},  // "*." does not match the name itself
      {"www.github.com", HostClass::other, ""},
      {"accounts.google.com", HostClass::app, "google"},
      {"ads.google.com", HostClass::blocked, ""},
      {"gist.github.com", HostClass::blocked, ""},
      {"app.slack.com", HostClass::app, "slack"},
      {"slack.com", HostClass::app, "slack"},
      {"www.youtube.com", HostClass::app, "youtube"},
      {"youtube.com", HostClass::other, ""},
      {"claude.ai", HostClass::app, "claude"},
      {"a.b.saas.example.com", HostClass::app, "intranet-saas"},
      {"login.microsoftonline.com", HostClass::auth, ""},
      {"device.login.microsoftonline.com", HostClass::excluded, ""},
      {"example.com", HostClass::other, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.host);
    const auto match = policy.match(row.host, policy.default_profile());
    CHECK(match.host_class == row.host_class);
    if (match.host_class == HostClass::app) CHECK(policy.apps()[match.app].name == row.app);
  }
}

TEST_CASE("apps: a profile's own apps replace the top level's for its clients") {
  const auto yaml = with_apps("  github: { enterprises: [octo-corp] }\n") +
                    "profiles:\n"
                    "  - name: eng\n    clients: [10.1.0.0/16]\n"
                    "    v2: {tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee, policy_id: "
                    "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5}\n"
                    "    apps: { slack: { requester: T0123ABCD, workspaces: [T0123ABCD] } }\n"
                    "  - name: audit\n    clients: [10.2.0.0/16]\n    mode: report\n"
                    "    v2: {tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee, policy_id: "
                    "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5}\n";
  const policy::Policy policy(test::load_yaml(yaml));
  const auto& def = policy.default_profile();
  const auto& eng = policy.profile_for(config::parse_ip("10.1.2.3"));
  const auto& audit = policy.profile_for(config::parse_ip("10.2.2.3"));
  CHECK(policy.match("github.com", def).host_class == HostClass::app);
  CHECK(policy.match("slack.com", def).host_class == HostClass::other);  // not the default's app: tunnelled
  CHECK(policy.match("github.com", eng).host_class == HostClass::other);
  CHECK(policy.match("slack.com", eng).host_class == HostClass::app);
  CHECK(policy.match("github.com", audit).host_class == HostClass::app);  // no apps of its own: the top level's
  const auto github = policy.hosts().match("github.com");
  CHECK(def.inserted_block(HostClass::app, github.app) == "sec-GitHub-allowed-enterprise: octo-corp\r\n");
  CHECK(audit.inserted_block(HostClass::app, github.app).empty());  // report mode inserts nothing
  CHECK(
      test::explained(policy, "https://slack.com/", "10.1.2.3").find("header: X-Slack-Allowed-Workspaces: T0123ABCD") !=
      std::string::npos);
  CHECK(test::explained(policy, "https://slack.com/", "127.0.0.1").find("action: tunnel") != std::string::npos);
}

TEST_CASE("apps: CONNECT and SNI decide app interception like a sign-in host's") {
  const policy::Policy policy(test::load_yaml(every_app));
  const auto connect = test::scan("CONNECT github.com:443 HTTP/1.1\r\nHost: github.com:443\r\n\r\n");
  const auto planned = policy::plan_connect(policy, connect.head, connect.bytes);
  const auto& target = std::get<policy::ConnectTarget>(planned);
  CHECK(target.host_class == HostClass::app);
  const auto after = policy::decide_after_hello(policy, target, {HelloKind::sni, "github.com"});
  const auto& intercept = std::get<policy::InterceptPlan>(after);
  CHECK(intercept.host_class == HostClass::app);
  CHECK(policy.apps()[intercept.app].name == "github");
  // An ordinary CONNECT whose SNI names an app host is intercepted for that host.
  const policy::ConnectTarget ordinary{"192.0.2.7", 443, HostClass::other};
  const auto fronted = policy::decide_after_hello(policy, ordinary, {HelloKind::sni, "app.slack.com"});
  CHECK(std::get<policy::InterceptPlan>(fronted).host == "app.slack.com");
  // Fail closed: an app CONNECT without TLS is closed, not tunnelled.
  const auto plain = policy::decide_after_hello(policy, target, {HelloKind::not_tls, ""});
  CHECK(std::get<policy::Refusal>(plain).status == 0);
  // Another intercepted host in the SNI: closed.
  const auto two = policy::decide_after_hello(policy, target, {HelloKind::sni, "claude.ai"});
  CHECK(std::holds_alternative<policy::Refusal>(two));
}

TEST_CASE("apps: strip every client copy (any case, '_' spelling, custom names), then exactly one line") {
  const policy::Policy policy(test::load_yaml(every_app));
  const auto app = *policy.apps().find("github");
  const policy::InterceptedChannel channel{"github.com", HostClass::app, 443, app};
  const auto* custom = policy.apps().custom_fields();
  REQUIRE(custom != nullptr);
  const std::string request =
      "GET /orgs HTTP/1.1\r\nHost: github.com\r\nsec-github-allowed-enterprise: evil\r\n"
      "SEC_GITHUB_ALLOWED_ENTERPRISE: evil2\r\nX-Example-Allowed-Tenant: x\r\nyoutube-restrict: none\r\n"
      "Accept: */*\r\n\r\n";
  policy::RequestScanner scanner({64 * 1024, 128, custom});
  policy::RequestHead head;
  REQUIRE(scanner.scan(request, head) == policy::ScanStatus::complete);
  const auto plan = policy::plan_intercepted_request(policy, head, request, channel);
  const auto& forward = std::get<policy::ForwardPlan>(plan);
  std::string out;
  for (const auto part : policy::rewrite_head(request, head, forward.edits)) out += part;
  CHECK(
      out ==
      "GET /orgs HTTP/1.1\r\nHost: github.com\r\nAccept: */*\r\nsec-GitHub-allowed-enterprise: octo-corp,4242\r\n\r\n");
  CHECK(policy::count_tenant_restriction_lines(head) == 4);
  // Another host inside the connection: 421.
  const auto other = test::scan("GET / HTTP/1.1\r\nHost: api.github.com\r\n\r\n");
  CHECK(std::get<policy::Refusal>(policy::plan_intercepted_request(policy, other.head, other.bytes, channel)).status ==
        421);
  // Connection may not nominate an app field (every later hop would drop the inserted line).
  policy::RequestScanner strict({64 * 1024, 128, custom});
  const std::string nominating = "GET / HTTP/1.1\r\nHost: github.com\r\nConnection: x-example-allowed-tenant\r\n\r\n";
  CHECK(strict.scan(nominating, head) == policy::ScanStatus::error);
  CHECK(strict.error() == policy::HeadError::connection_nominates_tenant_field);
}

TEST_CASE("apps: WebSocket is relayed only where asked for on an app host") {
  const auto upgrade =
      test::scan("GET /ws HTTP/1.1\r\nHost: app.slack.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  const auto plain = test::scan("GET /ws HTTP/1.1\r\nHost: app.slack.com\r\n\r\n");
  CHECK(policy::relays_protocol_switch(HostClass::app, upgrade.head));
  CHECK_FALSE(policy::relays_protocol_switch(HostClass::auth, upgrade.head));  // Entra as it was: 502
  CHECK_FALSE(policy::relays_protocol_switch(HostClass::app, plain.head));
}

TEST_CASE("apps: PAC, CA constraints and the CA load check include the app hosts") {
  const policy::Policy policy(test::load_yaml(every_app));
  const auto pac = policy::make_pac(policy, "proxy.corp", 3128);
  CHECK(pac.find("\"github.com\": true") != std::string::npos);
  CHECK(pac.find("shExpMatch(host, \"*.slack.com\")") != std::string::npos);
  const auto constraints =
      tls::constraints_for(policy.config().tenant_restrictions, config::app_host_patterns(policy.config()));
  const auto& permitted = constraints.permitted_dns;
  for (const char* subtree : {"github.com", "githubcopilot.com", "google.com", "slack.com", "claude.ai",
                              "saas.example.com", "login.microsoftonline.com"}) {
    CAPTURE(subtree);
    CHECK(std::find(permitted.begin(), permitted.end(), subtree) != permitted.end());
  }
  CHECK(std::find(permitted.begin(), permitted.end(), "api.github.com") == permitted.end());  // under github.com
  CHECK(tls::check_dns_name(constraints, "www.youtube.com") == tls::DnsVerdict::permitted);
  CHECK(tls::check_dns_name(constraints, "evil.example") == tls::DnsVerdict::not_permitted);
}

TEST_CASE("apps: --check prints each app's lines, sizes and hosts") {
  const policy::Policy policy(test::load_yaml(every_app));
  const auto summary = policy::summarize(policy);
  CHECK_THAT(summary, Catch::Contains("  app github:\n    sec-GitHub-allowed-enterprise: octo-corp,4242   [47 bytes on "
                                      "the wire]"));
  CHECK_THAT(summary, Catch::Contains("app slack hosts (intercepted): slack.com, *.slack.com"));
  CHECK_THAT(summary, Catch::Contains("app claude source: https://support.claude.com/en/articles/13198485"));
}
