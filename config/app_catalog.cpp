#include "config/app_catalog.hpp"

#include <algorithm>
#include <array>

namespace trproxy::config {
namespace {

// Hosts and headers as ../shared/saas-tenant-controls.md records them from each vendor's page.
constexpr std::array<std::string_view, 3> github_hosts{"github.com", "api.github.com", "*.githubcopilot.com"};
constexpr std::array<AppHeaderSpec, 1> github_headers{
    {{"sec-GitHub-allowed-enterprise", "enterprises", ValueShape::github_enterprise, 20}}};

constexpr std::array<std::string_view, 1> google_hosts{"*.google.com"};
constexpr std::array<AppHeaderSpec, 1> google_headers{
    {{"X-GoogApps-Allowed-Domains", "domains", ValueShape::domain, 100}}};

constexpr std::array<std::string_view, 2> slack_hosts{"slack.com", "*.slack.com"};
constexpr std::array<AppHeaderSpec, 2> slack_headers{
    {{"X-Slack-Allowed-Workspaces-Requester", "requester", ValueShape::slack_id, 1},
     {"X-Slack-Allowed-Workspaces", "workspaces", ValueShape::slack_id, 100}}};

constexpr std::array<std::string_view, 2> dropbox_hosts{"dropbox.com", "*.dropbox.com"};
constexpr std::array<AppHeaderSpec, 1> dropbox_headers{
    {{"X-Dropbox-allowed-Team-Ids", "teams", ValueShape::dropbox_team, 100}}};

constexpr std::array<std::string_view, 5> youtube_hosts{"www.youtube.com", "m.youtube.com", "youtubei.googleapis.com",
                                                        "youtube.googleapis.com", "www.youtube-nocookie.com"};
constexpr std::array<AppHeaderSpec, 1> youtube_headers{
    {{"YouTube-Restrict", "restrict", ValueShape::youtube_level, 1}}};

constexpr std::array<std::string_view, 2> chatgpt_hosts{"chatgpt.com", "*.chatgpt.com"};
constexpr std::array<AppHeaderSpec, 1> chatgpt_headers{
    {{"ChatGPT-Allowed-Workspace-Id", "workspaces", ValueShape::uuid, 100}}};

constexpr std::array<std::string_view, 2> claude_hosts{"claude.ai", "api.anthropic.com"};
constexpr std::array<AppHeaderSpec, 1> claude_headers{
    {{"anthropic-allowed-org-ids", "organizations", ValueShape::uuid, 100}}};

constexpr std::array<std::string_view, 8> webex_hosts{
    "identity.webex.com",      "identity-eu.webex.com", "idbroker.webex.com",    "idbroker-secondary.webex.com",
    "idbroker-b-us.webex.com", "idbroker-eu.webex.com", "idbroker-ca.webex.com", "atlas-a.wbx2.com"};
constexpr std::array<AppHeaderSpec, 1> webex_headers{
    {{"CiscoSpark-Allowed-Domains", "domains", ValueShape::domain, 100}}};

constexpr std::array<AppSpec, 8> apps{{
    {"github",
     github_hosts,
     github_headers,
     BlockSignal::status_403,
     {},
     "https://docs.github.com/en/enterprise-cloud@latest/admin/configuring-settings/"
     "hardening-security-for-your-enterprise/restricting-access-to-githubcom-using-a-corporate-proxy",
     "GitHub Enterprise Cloud with Enterprise Managed Users"},
    {"google",
     google_hosts,
     google_headers,
     BlockSignal::none,
     {},
     "https://support.google.com/a/answer/1668854",
     "Google Workspace; the listed domains are the organization's primary and secondary domains"},
    {"slack",
     slack_hosts,
     slack_headers,
     BlockSignal::none,
     {},
     "https://slack.com/help/articles/360024821873",
     "Slack Business+ or Enterprise Grid; both headers are needed for either to work"},
    {"dropbox",
     dropbox_hosts,
     dropbox_headers,
     BlockSignal::none,
     {},
     "https://help.dropbox.com/security/network-control",
     "Dropbox Enterprise, with network control switched on in the admin console"},
    {"youtube",
     youtube_hosts,
     youtube_headers,
     BlockSignal::none,
     {},
     "https://support.google.com/a/answer/6214622",
     "none (a content restriction, not a tenant control)"},
    {"chatgpt",
     chatgpt_hosts,
     chatgpt_headers,
     BlockSignal::none,
     {},
     "https://learn.microsoft.com/en-us/entra/global-secure-access/how-to-configure-custom-headers",
     "ChatGPT Enterprise or Team workspace; HTTP/1.1 with QUIC blocked"},
    {"claude", claude_hosts, claude_headers, BlockSignal::body_contains, "tenant_restriction_violation",
     "https://support.claude.com/en/articles/13198485", "Claude Enterprise or Team organization"},
    {"webex",
     webex_hosts,
     webex_headers,
     BlockSignal::none,
     {},
     "https://help.webex.com/article/ndir4th",
     "Webex Control Hub organization; the domains are the organization's verified email domains"},
}};

}  // namespace

std::span<const AppSpec> builtin_apps() {
  return apps;
}

const AppSpec* find_builtin_app(std::string_view name) {
  const auto it = std::find_if(apps.begin(), apps.end(), [&](const AppSpec& app) { return app.name == name; });
  return it == apps.end() ? nullptr : &*it;
}

}  // namespace trproxy::config
