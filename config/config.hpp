#pragma once
// The validated, immutable configuration of one trproxy run (DESIGN.md, "Configuration").
// Built once by load_config(); shared read-only as std::shared_ptr<const Config> and
// replaced whole on reload, never edited in place.

#include "config/cidr.hpp"
#include "config/endpoint.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trproxy::config {

enum class LeafKeyType { ec_p256, rsa_2048 };
enum class Mode { v1, v2 };
// What a profile does to intercepted requests (DESIGN.md, "Profiles and report mode"): enforce
// strips and inserts the headers; report forwards every head unchanged and only logs and counts.
enum class Enforcement { enforce, report };
enum class LogLevel { trace, debug, info, warn, error };
enum class LogFormat { text, json };  // access log: logfmt or one JSON object per line

struct CaConfig {
  std::filesystem::path cert;
  std::filesystem::path key;
  LeafKeyType leaf_key = LeafKeyType::ec_p256;
};

// The client-facing TLS side. `ticket_keys`: a file of session-ticket keys shared by replicas
// behind one load balancer (empty: keys generated in memory and rotated by the process).
struct TlsConfig {
  std::filesystem::path ticket_keys;
};

struct UpstreamConfig {
  // Empty means the operating system's trust store ("system").
  std::filesystem::path trust_bundle;
  // Lower-case host name -> where to connect instead of resolving it (split DNS, tests).
  std::map<std::string, Endpoint> resolve;
  std::chrono::milliseconds connect_timeout{10'000};
  // A parent HTTP proxy every upstream connection goes through (CONNECT), host name or IP.
  std::optional<Endpoint> proxy;
  // SO_MARK on every upstream socket (0 = none): the packet filter's loop guard skips packets
  // carrying it (DESIGN.md, "Transparent mode"). Setting it needs CAP_NET_ADMIN.
  std::uint32_t mark = 0;
  [[nodiscard]] bool trusts_system() const { return trust_bundle.empty(); }
};

struct V1Policy {
  std::vector<std::string> allowed_tenants;  // domains (lower-case) or GUIDs
  std::string access_context;                // directory GUID
  bool restrict_msa = false;
};

struct V2Policy {
  std::string tenant_id;
  std::string policy_id;
};

// The header values of one profile: exactly one of v1/v2, and enforce or report.
struct TenantHeaders {
  Mode mode = Mode::v2;
  V1Policy v1;
  V2Policy v2;
  Enforcement enforcement = Enforcement::enforce;
};

// The default profile (named "default") plus the host lists every profile shares.
struct TenantRestrictions : TenantHeaders {
  // Host lists are normalised: lower-case, no trailing dot.
  std::vector<std::string> auth_hosts;
  std::vector<std::string> msa_hosts;
  // Always contains the two documented exclusions, plus whatever the config adds.
  std::vector<std::string> exclude;
};

// One header line an app inserts, its value rendered (lists joined with ",", no spaces).
struct AppHeader {
  std::string name;
  std::string value;
  bool operator==(const AppHeader&) const = default;
};

// One SaaS app of `apps` (DESIGN.md, "Tenant control for other SaaS apps"): a built-in one
// (config/app_catalog.hpp) or one of apps.custom. Its hosts are intercepted like the sign-in
// hosts; every request to them carries exactly these header lines.
struct App {
  std::string name;
  bool custom = false;
  std::vector<std::string> hosts;  // normalised exact names and "*." wildcards
  std::vector<AppHeader> headers;
};

// Header values for the clients in `clients` (first matching profile wins, else the default).
struct Profile : TenantHeaders {
  std::string name;
  std::vector<Cidr> clients;
  std::optional<std::vector<App>> apps;  // set: replaces the top-level apps for these clients
};

inline constexpr std::string_view default_profile_name = "default";

// Bounds the DESIGN leaves to "a careful operator": every buffer and wait is finite.
struct Limits {
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t max_header_fields = 128;
  std::size_t max_connections = 10'000;
  // One client address's share of max_connections; unset, all but an eighth of it (loader).
  std::size_t max_connections_per_client = 8'750;
  std::chrono::milliseconds head_timeout{15'000};
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds upstream_response_timeout{60'000};
  std::chrono::milliseconds tunnel_idle_timeout{600'000};
  std::chrono::milliseconds shutdown_grace{20'000};
  // After SIGTERM, keep accepting this long while /readyz says 503, so load balancers notice.
  std::chrono::milliseconds drain_delay{0};
};

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  [[nodiscard]] bool contains(std::uint16_t port) const { return port >= first && port <= last; }
};

// Where the proxy may connect on a client's behalf (DESIGN.md, "Egress rules").
struct EgressRules {
  std::vector<PortRange> connect_ports;  // CONNECT
  std::vector<PortRange> forward_ports;  // absolute-form plain HTTP
  std::vector<Cidr> deny;                // destination addresses never connected to
};

// Loopback, link-local (incl. 169.254.169.254), unspecified, multicast and the cloud metadata
// addresses that sit outside those ranges: the proxy is not a way into its own network.
// IPv4 prefixes also match IPv4-mapped IPv6 destinations (addresses are kept in mapped form).
inline constexpr std::array<std::string_view, 11> default_egress_deny() {
  return {"127.0.0.0/8", "::1/128",  "169.254.0.0/16",     "fe80::/10",         "0.0.0.0/8",         "::/128",
          "224.0.0.0/4", "ff00::/8", "255.255.255.255/32", "fd00:ec2::254/128", "100.100.100.200/32"};
}

enum class GuardAction { refuse, log };

// Tunnels to the sign-in service's addresses that do not name a sign-in host (DESIGN.md,
// "Sign-in address guard").
struct SignInGuard {
  std::vector<Cidr> addresses;            // [] = off
  std::vector<std::string> tunnel_names;  // host patterns allowed to tunnel there
  GuardAction action = GuardAction::refuse;
};

// Microsoft 365 endpoint ID 56, the Entra ID ranges (../shared/tenant-restrictions-facts.md).
inline constexpr std::array<std::string_view, 16> default_sign_in_addresses() {
  return {"20.190.128.0/18",     "40.126.0.0/18",      "20.20.32.0/19",       "20.231.128.0/19",
          "2603:1006:2000::/48", "2603:1007:200::/48", "2603:1016:1400::/48", "2603:1017::/48",
          "2603:1026:3000::/48", "2603:1027:1::/48",   "2603:1036:3000::/48", "2603:1037:1::/48",
          "2603:1046:2000::/48", "2603:1047:1::/48",   "2603:1056:2000::/48", "2603:1057:2::/48"};
}

// The other hosts ID 56 names, minus the aliases of the sign-in service itself
// (login.microsoftonline-p.com, loginex.microsoftonline.com, login-us.microsoftonline.com):
// those could carry a sign-in without the header, so they are refused unless configured.
inline constexpr std::array<std::string_view, 20> default_guard_tunnel_names() {
  return {"*.auth.microsoft.com",
          "*.msftidentity.com",
          "*.msidentity.com",
          "account.activedirectory.windowsazure.com",
          "accounts.accesscontrol.windows.net",
          "adminwebservice.microsoftonline.com",
          "api.passwordreset.microsoftonline.com",
          "autologon.microsoftazuread-sso.com",
          "becws.microsoftonline.com",
          "ccs.login.microsoftonline.com",
          "clientconfig.microsoftonline-p.net",
          "companymanager.microsoftonline.com",
          "graph.microsoft.com",
          "graph.windows.net",
          "logincert.microsoftonline.com",
          "nexus.microsoftonline-p.com",
          "passwordreset.microsoftonline.com",
          "provisioningapi.microsoftonline.com",
          "device.login.microsoftonline.com",
          "enterpriseregistration.windows.net"};
}

// Load balancers whose connections begin with a PROXY protocol header naming the real client.
struct ProxyProtocol {
  std::vector<Cidr> trusted;  // [] = off
  [[nodiscard]] bool trusts(const IpAddress& peer) const {
    return std::any_of(trusted.begin(), trusted.end(), [&](const Cidr& cidr) { return cidr.contains(peer); });
  }
};

// What the PAC file says (DESIGN.md, "Admin and PAC endpoints").
struct PacConfig {
  std::optional<Endpoint> proxy;     // replaces <Host>:<proxy port> (NAT, load balancer)
  std::string otherwise = "DIRECT";  // for every host the proxy does not handle
};

// How the packet filter hands a flow to a transparent listener (DESIGN.md, "Transparent mode").
enum class TransparentMethod {
  redirect,  // nftables redirect/dnat: the original destination from SO_ORIGINAL_DST
  tproxy,    // nftables tproxy: an IP_TRANSPARENT listener, the local address is the destination
};

struct TransparentConfig {
  std::vector<Endpoint> listen;  // [] = off
  TransparentMethod method = TransparentMethod::redirect;
  [[nodiscard]] bool enabled() const { return !listen.empty(); }
};

struct AdminConfig {
  std::optional<Endpoint> listen;  // disabled when empty
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  // "-" = stdout, "" = off, otherwise a file path (resolved against the config folder).
  std::string access = "-";
  LogFormat format = LogFormat::text;
  [[nodiscard]] bool access_to_stdout() const { return access == "-"; }
  [[nodiscard]] bool access_off() const { return access.empty(); }
};

struct Config {
  std::filesystem::path source;  // the file it was read from (empty when loaded from text)
  std::string source_text;       // that file's bytes (trproxy_config_info carries their SHA-256)
  std::vector<Endpoint> listen;
  unsigned threads = 0;  // 0 = one per CPU core
  std::vector<Cidr> clients_allow;
  CaConfig ca;
  TlsConfig tls;
  UpstreamConfig upstream;
  TenantRestrictions tenant_restrictions;
  std::vector<Profile> profiles;  // in file order: the first whose clients match applies
  std::vector<App> apps;          // the default profile's apps; [] = none
  // Host patterns: exact names or "*.suffix" (any name ending in ".suffix"), normalised.
  std::vector<std::string> block;
  std::vector<std::string> allow;  // exceptions to block
  SignInGuard sign_in_guard;
  AdminConfig admin;
  TransparentConfig transparent;
  LogConfig log;
  Limits limits;
  EgressRules egress;
  ProxyProtocol proxy_protocol;
  PacConfig pac;
  bool watch_files = true;  // reload when the config or CA files change
};

// The two hosts Microsoft says must never be intercepted (device auth uses client certificates).
inline const std::vector<std::string>& documented_exclusions() {
  static const std::vector<std::string> hosts{"device.login.microsoftonline.com", "enterpriseregistration.windows.net"};
  return hosts;
}

// The sign-in hosts intercepted when the config names none (DESIGN.md, "What it does to traffic").
inline const std::vector<std::string>& default_auth_hosts() {
  static const std::vector<std::string> hosts{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net"};
  return hosts;
}
inline const std::vector<std::string>& default_msa_hosts() {
  static const std::vector<std::string> hosts{"login.live.com"};
  return hosts;
}

// The hosts trproxy intercepts: the auth and MSA hosts that are not excluded (a documented
// exclusion listed as a sign-in host stays excluded).
inline std::vector<std::string> intercepted_hosts(const TenantRestrictions& tr) {
  std::vector<std::string> hosts;
  for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts}) {
    for (const auto& host : *list) {
      if (std::find(tr.exclude.begin(), tr.exclude.end(), host) == tr.exclude.end()) hosts.push_back(host);
    }
  }
  return hosts;
}

// Each list of apps the config holds, with the key path it came from: the top level's ("apps"),
// then each profile's own ("profiles[1].apps").
template <class Visit>
void for_each_app_list(const Config& config, Visit visit) {
  visit(config.apps, std::string("apps"));
  for (std::size_t i = 0; i < config.profiles.size(); ++i) {
    if (config.profiles[i].apps) visit(*config.profiles[i].apps, "profiles[" + std::to_string(i) + "].apps");
  }
}

// The key path of apps[index] in a list at `list_path`: "apps.github", "apps.custom[0]".
inline std::string app_key_path(const std::string& list_path, const std::vector<App>& apps, std::size_t index) {
  const auto& app = apps[index];
  if (!app.custom) return list_path + "." + app.name;
  const auto customs_before = std::count_if(apps.begin(), apps.begin() + static_cast<std::ptrdiff_t>(index),
                                            [](const App& other) { return other.custom; });
  return list_path + ".custom[" + std::to_string(customs_before) + "]";
}

// Every app host pattern the config names (top level and profiles), each once: what the CA
// must permit besides the sign-in hosts.
inline std::vector<std::string> app_host_patterns(const Config& config) {
  std::vector<std::string> out;
  for_each_app_list(config, [&out](const std::vector<App>& apps, const std::string&) {
    for (const auto& app : apps) {
      for (const auto& host : app.hosts) {
        if (std::find(out.begin(), out.end(), host) == out.end()) out.push_back(host);
      }
    }
  });
  return out;
}

const char* to_string(LeafKeyType type);
const char* to_string(Mode mode);
const char* to_string(Enforcement enforcement);
const char* to_string(LogLevel level);
const char* to_string(LogFormat format);
const char* to_string(GuardAction action);
const char* to_string(TransparentMethod method);

}  // namespace trproxy::config
