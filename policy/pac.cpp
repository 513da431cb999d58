#include "policy/pac.hpp"

#include "policy/authority.hpp"
#include "policy/http_head.hpp"

#include <vector>

namespace trproxy::policy {

namespace {

std::string js_object(const std::vector<std::string>& hosts) {
  std::string out = "{";
  for (const auto& host : hosts) out += (out.size() > 1 ? ", \"" : "\"") + host + "\": true";
  return out + "}";
}

}  // namespace

std::string make_pac(const Policy& policy, std::string_view proxy_host, std::uint16_t proxy_port) {
  const auto& c = policy.config();
  const auto& tr = c.tenant_restrictions;
  // Exact names the proxy handles (sign-in hosts, blocked names), and the names that go
  // direct whatever a wildcard says (exclusions always; `allow` exceptions to blocks).
  std::vector<std::string> proxied;
  std::vector<std::string> direct = tr.exclude;
  std::vector<std::string> wildcards;
  const auto app_hosts = config::app_host_patterns(c);
  for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts, &app_hosts, &c.block}) {
    for (const auto& host : *list) {
      if (host.rfind("*.", 0) == 0) {
        wildcards.push_back(host);
      } else if (policy.hosts().classify(host) != HostClass::excluded &&
                 policy.hosts().classify(host) != HostClass::other) {
        proxied.push_back(host);
      }
    }
  }
  std::vector<std::string> direct_wildcards;
  for (const auto& host : c.allow) (host.rfind("*.", 0) == 0 ? direct_wildcards : direct).push_back(host);

  // pac.proxy names the proxy as clients must reach it (behind NAT or a load balancer);
  // pac.otherwise is validated at load to hold only PAC keywords, host names and ports.
  const auto proxy =
      c.pac.proxy ? c.pac.proxy->to_string() : std::string(proxy_host) + ":" + std::to_string(proxy_port);
  const auto route = "\"PROXY " + proxy + "\"";
  const auto otherwise = "\"" + c.pac.otherwise + "\"";
  std::string out =
      "// trproxy PAC: Microsoft sign-in hosts, SaaS app hosts and blocked hosts go through the tenant-restrictions\n"
      "// proxy, everything else goes to pac.otherwise. Generated from the running configuration.\n"
      "function FindProxyForURL(url, host) {\n"
      "  host = host.toLowerCase();\n"
      "  if (host.charAt(host.length - 1) == \".\") host = host.substring(0, host.length - 1);\n";
  out += "  var proxied = " + js_object(proxied) + ";\n";
  out += "  var direct = " + js_object(direct) + ";\n";
  out += "  if (proxied.hasOwnProperty(host)) return " + route + ";\n";
  out += "  if (direct.hasOwnProperty(host)) return " + otherwise + ";\n";
  for (const auto& pattern : direct_wildcards)
    out += "  if (shExpMatch(host, \"" + pattern + "\")) return " + otherwise + ";\n";
  for (const auto& pattern : wildcards) out += "  if (shExpMatch(host, \"" + pattern + "\")) return " + route + ";\n";
  out += "  return " + otherwise + ";\n}\n";
  return out;
}

std::string pac_host_from(std::string_view host_header, std::string_view fallback) {
  const auto authority = parse_authority(host_header, 80, false);
  if (!authority || authority->host.empty()) return std::string(fallback);
  for (char c : authority->host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == ':' || c == '_';
    if (!ok) return std::string(fallback);
  }
  return authority->ip_literal_v6 ? "[" + std::string(authority->host) + "]" : std::string(authority->host);
}

}  // namespace trproxy::policy
