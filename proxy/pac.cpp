#include "proxy/pac.hpp"

#include "policy/http_head.hpp"

namespace trproxy::proxy {

std::string make_pac(const policy::Policy& policy, std::string_view proxy_host, std::uint16_t proxy_port) {
  const auto& c = policy.config();
  const auto& tr = c.tenant_restrictions;
  std::string out =
      "// trproxy PAC: Microsoft sign-in hosts go through the tenant-restrictions proxy,\n"
      "// everything else goes direct. Generated from the running configuration.\n"
      "function FindProxyForURL(url, host) {\n"
      "  host = host.toLowerCase();\n"
      "  if (host.charAt(host.length - 1) == \".\") host = host.substring(0, host.length - 1);\n"
      "  var proxied = {\n";
  bool first = true;
  for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts, &c.block}) {
    for (const auto& host : *list) {
      if (policy.hosts().classify(host) == policy::HostClass::excluded) continue;
      out += first ? "    \"" : ",\n    \"";
      out += host + "\": true";
      first = false;
    }
  }
  out += "\n  };\n";
  out += "  if (proxied.hasOwnProperty(host)) return \"PROXY " + std::string(proxy_host) + ":" +
         std::to_string(proxy_port) + "\";\n";
  out += "  return \"DIRECT\";\n}\n";
  return out;
}

std::string pac_host_from(std::string_view host_header, std::string_view fallback) {
  const auto authority = policy::parse_authority(host_header, 80, false);
  if (!authority || authority->host.empty()) return std::string(fallback);
  for (char c : authority->host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == ':' || c == '_';
    if (!ok) return std::string(fallback);
  }
  return authority->ip_literal_v6 ? "[" + std::string(authority->host) + "]" : std::string(authority->host);
}

}  // namespace trproxy::proxy
