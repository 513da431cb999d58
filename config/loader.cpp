#include "config/loader.hpp"

#include "config/apps.hpp"
#include "config/syntax.hpp"
#include "config/yaml_values.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace trproxy::config {
namespace {

using namespace yaml;

void load_listen(const YAML::Node& node, Config& config) {
  config.listen.clear();
  if (node.IsSequence()) {
    const auto values = string_list(node, "listen");
    if (values.empty()) {
      fail("listen", "expected at least one address");
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      config.listen.push_back(ip_endpoint(values[i], "listen[" + std::to_string(i) + "]", true));
    }
  } else {
    config.listen.push_back(ip_endpoint(scalar(node, "listen"), "listen", true));
  }
}

std::vector<Cidr> cidr_list(const YAML::Node& node, const std::string& path) {
  std::vector<Cidr> out;
  const auto values = string_list(node, path);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto cidr = parse_cidr(values[i]);
    if (!cidr) {
      fail_value(path + "[" + std::to_string(i) + "]", values[i],
                 "is not an address prefix (e.g. 10.0.0.0/8 or fc00::/7)");
    }
    out.push_back(*cidr);
  }
  return out;
}

void load_clients(const YAML::Node& node, Config& config) {
  expect_map(node, "clients", {"allow"});
  if (const auto allow = node["allow"]) {
    config.clients_allow = cidr_list(allow, "clients.allow");
  }
}

// "443" or "8000-8999".
std::vector<PortRange> port_list(const YAML::Node& node, const std::string& path) {
  std::vector<PortRange> out;
  const auto values = string_list(node, path);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& text = values[i];
    const auto dash = text.find('-');
    const auto first = parse_port(std::string_view(text).substr(0, dash));
    const auto last = dash == std::string::npos ? first : parse_port(std::string_view(text).substr(dash + 1));
    if (!first || !last || *last < *first) {
      fail_value(path + "[" + std::to_string(i) + "]", text, "is not a port or a port range (e.g. 443 or 8000-8999)");
    }
    out.push_back(PortRange{*first, *last});
  }
  return out;
}

void load_egress(const YAML::Node& node, Config& config) {
  expect_map(node, "egress", {"connect_ports", "forward_ports", "deny"});
  if (const auto v = node["connect_ports"]) {
    config.egress.connect_ports = port_list(v, "egress.connect_ports");
  }
  if (const auto v = node["forward_ports"]) {
    config.egress.forward_ports = port_list(v, "egress.forward_ports");
  }
  if (const auto v = node["deny"]) {
    config.egress.deny = cidr_list(v, "egress.deny");
  }
}

void load_proxy_protocol(const YAML::Node& node, Config& config) {
  expect_map(node, "proxy_protocol", {"trusted"});
  if (const auto v = node["trusted"]) {
    config.proxy_protocol.trusted = cidr_list(v, "proxy_protocol.trusted");
  }
}

// One PAC result entry: DIRECT, or PROXY/HTTPS/SOCKS/SOCKS4/SOCKS5 host:port. It is written into
// a JavaScript string, so nothing but host names, addresses and ports gets in.
bool is_pac_entry(std::string_view entry) {
  if (entry == "DIRECT") return true;
  const auto space = entry.find(' ');
  if (space == std::string_view::npos) return false;
  const auto kind = entry.substr(0, space);
  if (kind != "PROXY" && kind != "HTTPS" && kind != "SOCKS" && kind != "SOCKS4" && kind != "SOCKS5") return false;
  const auto endpoint = parse_endpoint(entry.substr(space + 1));
  return endpoint && (parse_ip(endpoint->host) || is_domain_name(endpoint->host));
}

void load_pac(const YAML::Node& node, Config& config) {
  expect_map(node, "pac", {"proxy", "otherwise"});
  if (const auto v = node["proxy"]) {
    const auto text = scalar(v, "pac.proxy");
    if (!text.empty()) config.pac.proxy = host_endpoint(text, "pac.proxy");
  }
  if (const auto v = node["otherwise"]) {
    const auto text = scalar(v, "pac.otherwise");
    std::string normalised;
    std::string_view rest(text);
    while (!rest.empty() || normalised.empty()) {
      const auto semicolon = rest.find(';');
      auto entry = rest.substr(0, semicolon);
      while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
      while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
      if (!is_pac_entry(entry)) {
        fail_value("pac.otherwise", text,
                   "is not a PAC result: DIRECT or PROXY host:port entries separated by \";\" "
                   "(e.g. \"PROXY gw.corp.example:8080; DIRECT\")");
      }
      normalised += (normalised.empty() ? "" : "; ") + std::string(entry);
      rest = semicolon == std::string_view::npos ? std::string_view{} : rest.substr(semicolon + 1);
    }
    config.pac.otherwise = normalised;
  }
}

void load_ca(const YAML::Node& node, const std::filesystem::path& base, Config& config) {
  expect_map(node, "ca", {"cert", "key", "leaf_key"});
  if (const auto cert = node["cert"]) {
    config.ca.cert = resolve_path(base, scalar(cert, "ca.cert"));
  }
  if (const auto key = node["key"]) {
    config.ca.key = resolve_path(base, scalar(key, "ca.key"));
  }
  if (const auto leaf = node["leaf_key"]) {
    static const std::pair<const char*, LeafKeyType> keys[] = {{"ec-p256", LeafKeyType::ec_p256},
                                                               {"rsa-2048", LeafKeyType::rsa_2048}};
    config.ca.leaf_key = named_value(leaf, "ca.leaf_key", keys, "is not ec-p256 or rsa-2048");
  }
}

void load_tls(const YAML::Node& node, const std::filesystem::path& base, Config& config) {
  expect_map(node, "tls", {"ticket_keys"});
  if (const auto keys = node["ticket_keys"]) {
    const auto text = scalar(keys, "tls.ticket_keys");
    config.tls.ticket_keys = text.empty() ? std::filesystem::path{} : resolve_path(base, text);
  }
}

// A firewall mark: decimal or 0x-hexadecimal, 32 bits.
std::uint32_t packet_mark(const YAML::Node& node, const std::string& path) {
  const auto text = scalar(node, path);
  const bool hex = text.size() > 2 && (text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0);
  const auto digits = hex ? text.substr(2) : text;
  const auto valid = [hex](char c) {
    return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
  };
  if (digits.empty() || digits.size() > (hex ? 8U : 10U) || !std::all_of(digits.begin(), digits.end(), valid)) {
    fail_value(path, text, "is not a packet mark (0 to 4294967295, or 0x hexadecimal)");
  }
  const auto value = std::stoull(digits, nullptr, hex ? 16 : 10);
  if (value > 0xffffffffULL) fail_value(path, text, "is not a packet mark (0 to 4294967295, or 0x hexadecimal)");
  return static_cast<std::uint32_t>(value);
}

void load_transparent(const YAML::Node& node, Config& config) {
  expect_map(node, "transparent", {"listen", "method"});
  auto& transparent = config.transparent;
  if (const auto listen = node["listen"]) {
    const auto values = string_list(listen, "transparent.listen");
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto path = "transparent.listen[" + std::to_string(i) + "]";
      auto endpoint = ip_endpoint(values[i], path, true);
      const bool taken =
          endpoint.port != 0 &&
          (std::find(config.listen.begin(), config.listen.end(), endpoint) != config.listen.end() ||
           std::find(transparent.listen.begin(), transparent.listen.end(), endpoint) != transparent.listen.end());
      if (taken) fail_value(path, values[i], "is already a listener; a transparent listener needs its own port");
      transparent.listen.push_back(std::move(endpoint));
    }
  }
  if (const auto method = node["method"]) {
    static const std::pair<const char*, TransparentMethod> methods[] = {{"redirect", TransparentMethod::redirect},
                                                                        {"tproxy", TransparentMethod::tproxy}};
    transparent.method = named_value(method, "transparent.method", methods);
  }
}

void load_upstream(const YAML::Node& node, const std::filesystem::path& base, Config& config) {
  expect_map(node, "upstream", {"trust", "resolve", "connect_timeout", "proxy", "mark"});
  if (const auto mark = node["mark"]) config.upstream.mark = packet_mark(mark, "upstream.mark");
  if (const auto parent = node["proxy"]) {
    const auto text = scalar(parent, "upstream.proxy");
    if (!text.empty()) config.upstream.proxy = host_endpoint(text, "upstream.proxy");
  }
  if (const auto trust = node["trust"]) {
    const auto text = scalar(trust, "upstream.trust");
    if (text.empty()) {
      fail_value("upstream.trust", text, "is neither \"system\" nor a PEM bundle path");
    }
    config.upstream.trust_bundle = text == "system" ? std::filesystem::path{} : resolve_path(base, text);
  }
  if (const auto resolve = node["resolve"]) {
    if (!resolve.IsMap()) {
      fail("upstream.resolve", "expected a mapping of host: \"ip:port\"");
    }
    for (const auto& entry : resolve) {
      const auto host_text = entry.first.Scalar();
      const auto path = "upstream.resolve." + host_text;
      const auto host = host_name(host_text, path);
      config.upstream.resolve[host] = ip_endpoint(scalar(entry.second, path), path);
    }
  }
  if (const auto timeout = node["connect_timeout"]) {
    config.upstream.connect_timeout = duration(timeout, "upstream.connect_timeout");
  }
}

void load_v1(const YAML::Node& node, const std::string& path, V1Policy& v1) {
  expect_map(node, path, {"allowed_tenants", "access_context", "restrict_msa"});
  const auto tenants_path = path + ".allowed_tenants";
  const auto tenants = string_list(required(node, "allowed_tenants", path), tenants_path);
  if (tenants.empty()) {
    fail(tenants_path, "expected at least one tenant (domain or GUID)");
  }
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    const auto& tenant = tenants[i];
    const auto item = tenants_path + "[" + std::to_string(i) + "]";
    if (is_guid(tenant)) {
      v1.allowed_tenants.push_back(tenant);
    } else if (is_domain_name(tenant)) {
      v1.allowed_tenants.push_back(normalize_host(tenant));
    } else {
      fail_value(item, tenant, "is neither a domain name nor a tenant GUID");
    }
  }
  v1.access_context = guid(required(node, "access_context", path), path + ".access_context");
  if (const auto msa = node["restrict_msa"]) {
    v1.restrict_msa = boolean(msa, path + ".restrict_msa");
  }
}

void load_v2(const YAML::Node& node, const std::string& path, V2Policy& v2) {
  expect_map(node, path, {"tenant_id", "policy_id"});
  v2.tenant_id = guid(required(node, "tenant_id", path), path + ".tenant_id");
  v2.policy_id = guid(required(node, "policy_id", path), path + ".policy_id");
}

// Exactly one of v1/v2, and `mode: enforce | report`: the same rules for the default
// (tenant_restrictions) and for every profile.
void load_tenant_headers(const YAML::Node& node, const std::string& path, TenantHeaders& headers) {
  const auto v1 = node["v1"];
  const auto v2 = node["v2"];
  if (v1 && v2) {
    fail(path, "has both v1 and v2; configure exactly one");
  }
  if (!v1 && !v2) {
    fail(path, "needs exactly one of v1 or v2");
  }
  if (v1) {
    headers.mode = Mode::v1;
    load_v1(v1, path + ".v1", headers.v1);
  } else {
    headers.mode = Mode::v2;
    load_v2(v2, path + ".v2", headers.v2);
  }
  if (const auto mode = node["mode"]) {
    static const std::pair<const char*, Enforcement> modes[] = {{"enforce", Enforcement::enforce},
                                                                {"report", Enforcement::report}};
    headers.enforcement = named_value(mode, path + ".mode", modes);
  }
}

// A host cannot be both intercepted and excluded: whichever the operator meant, one list is
// wrong. The documented exclusions are the exception: they always win (device sign-in uses
// client certificates an interception would break), and --check warns about them.
void refuse_intercepted_and_excluded(const TenantRestrictions& tr, const std::string& path) {
  const auto& documented = documented_exclusions();
  for (const auto& host : tr.exclude) {
    if (std::find(documented.begin(), documented.end(), host) != documented.end()) continue;
    for (const auto& [list, key] : {std::pair{&tr.auth_hosts, "auth_hosts"}, std::pair{&tr.msa_hosts, "msa_hosts"}}) {
      if (std::find(list->begin(), list->end(), host) != list->end()) {
        fail_value(
            path + ".exclude", host,
            std::string("is also intercepted (in ") + path + "." + key + "); a host is either intercepted or excluded");
      }
    }
  }
}

void load_tenant_restrictions(const YAML::Node& node, Config& config) {
  const std::string path = "tenant_restrictions";
  expect_map(node, path, {"v1", "v2", "mode", "auth_hosts", "msa_hosts", "exclude"});
  auto& tr = config.tenant_restrictions;
  load_tenant_headers(node, path, tr);
  if (const auto hosts = node["auth_hosts"]) {
    tr.auth_hosts = host_list(hosts, path + ".auth_hosts");
    if (tr.auth_hosts.empty()) {
      fail(path + ".auth_hosts", "expected at least one host");
    }
  }
  if (const auto hosts = node["msa_hosts"]) {
    tr.msa_hosts = host_list(hosts, path + ".msa_hosts");
  }
  if (const auto hosts = node["exclude"]) {
    for (auto& host : host_list(hosts, path + ".exclude")) {
      if (std::find(tr.exclude.begin(), tr.exclude.end(), host) == tr.exclude.end()) {
        tr.exclude.push_back(std::move(host));
      }
    }
  }
  for (const auto& host : tr.msa_hosts) {
    if (std::find(tr.auth_hosts.begin(), tr.auth_hosts.end(), host) != tr.auth_hosts.end()) {
      fail_value(path + ".msa_hosts", host, "is also listed in auth_hosts");
    }
  }
  refuse_intercepted_and_excluded(tr, path);
}

void load_profiles(const YAML::Node& node, Config& config) {
  if (!node.IsSequence()) {
    fail("profiles", "expected a list of profiles (name, clients, v1 or v2, mode)");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto path = "profiles[" + std::to_string(i) + "]";
    const auto& item = node[i];
    expect_map(item, path, {"name", "clients", "v1", "v2", "mode", "apps"});
    Profile profile;
    profile.name = scalar(required(item, "name", path), path + ".name");
    if (!yaml::is_label_name(profile.name)) {
      fail_value(path + ".name", profile.name, "is not a profile name (1-64 letters, digits, '-', '_', '.')");
    }
    if (profile.name == default_profile_name) {
      fail_value(path + ".name", profile.name, "is reserved for tenant_restrictions (the default profile)");
    }
    for (const auto& other : config.profiles) {
      if (other.name == profile.name) fail_value(path + ".name", profile.name, "is already the name of a profile");
    }
    profile.clients = cidr_list(required(item, "clients", path), path + ".clients");
    if (profile.clients.empty()) {
      fail(path + ".clients", "expected at least one address prefix");
    }
    load_tenant_headers(item, path, profile);
    if (const auto apps = item["apps"]) profile.apps = load_apps(apps, path + ".apps");
    config.profiles.push_back(std::move(profile));
  }
}

// Blocking a sign-in host would stop every sign-in: refuse the config unless `allow` excepts it.
void check_block_spares_sign_in(const Config& config) {
  const auto& tr = config.tenant_restrictions;
  for (const auto& pattern : config.block) {
    for (const auto* list : {&tr.auth_hosts, &tr.msa_hosts}) {
      for (const auto& host : *list) {
        if (host_matches_pattern(host, pattern) && !host_matches_any(host, config.allow)) {
          fail_value("block", pattern, "matches the sign-in host " + host + " of tenant_restrictions");
        }
      }
    }
  }
}

void load_sign_in_guard(const YAML::Node& node, Config& config) {
  expect_map(node, "sign_in_guard", {"addresses", "tunnel_names", "action"});
  auto& guard = config.sign_in_guard;
  if (const auto v = node["addresses"]) {
    guard.addresses = cidr_list(v, "sign_in_guard.addresses");
  }
  if (const auto v = node["tunnel_names"]) {
    guard.tunnel_names = host_pattern_list(v, "sign_in_guard.tunnel_names");
  }
  if (const auto v = node["action"]) {
    static const std::pair<const char*, GuardAction> actions[] = {{"refuse", GuardAction::refuse},
                                                                  {"log", GuardAction::log}};
    guard.action = named_value(v, "sign_in_guard.action", actions);
  }
}

void load_admin(const YAML::Node& node, Config& config) {
  expect_map(node, "admin", {"listen"});
  if (const auto listen = node["listen"]) {
    const auto text = scalar(listen, "admin.listen");
    config.admin.listen = text.empty() ? std::nullopt : std::optional(ip_endpoint(text, "admin.listen", true));
  }
}

void load_log(const YAML::Node& node, const std::filesystem::path& base, Config& config) {
  expect_map(node, "log", {"level", "access", "format"});
  if (const auto level = node["level"]) {
    static const std::pair<const char*, LogLevel> levels[] = {{"trace", LogLevel::trace},
                                                              {"debug", LogLevel::debug},
                                                              {"info", LogLevel::info},
                                                              {"warn", LogLevel::warn},
                                                              {"error", LogLevel::error}};
    config.log.level = named_value(level, "log.level", levels);
  }
  if (const auto access = node["access"]) {
    const auto text = scalar(access, "log.access");
    config.log.access = (text.empty() || text == "-") ? text : resolve_path(base, text).string();
  }
  if (const auto format = node["format"]) {
    static const std::pair<const char*, LogFormat> formats[] = {{"text", LogFormat::text}, {"json", LogFormat::json}};
    config.log.format = named_value(format, "log.format", formats);
  }
}

void load_limits(const YAML::Node& node, Config& config) {
  expect_map(node, "limits",
             {"max_head_bytes", "max_header_fields", "max_connections", "max_connections_per_client", "head_timeout",
              "idle_timeout", "upstream_response_timeout", "tunnel_idle_timeout", "shutdown_grace", "drain_delay"});
  auto& limits = config.limits;
  if (const auto v = node["max_head_bytes"]) {
    limits.max_head_bytes = whole_number(v, "limits.max_head_bytes", 4096, 1024 * 1024);
  }
  if (const auto v = node["max_header_fields"]) {
    limits.max_header_fields = whole_number(v, "limits.max_header_fields", 16, 1024);
  }
  if (const auto v = node["max_connections"]) {
    limits.max_connections = whole_number(v, "limits.max_connections", 1, 1'000'000);
  }
  if (const auto v = node["max_connections_per_client"]) {
    limits.max_connections_per_client = whole_number(v, "limits.max_connections_per_client", 1, 1'000'000);
    if (limits.max_connections_per_client > limits.max_connections) {
      fail("limits.max_connections_per_client",
           "must not exceed limits.max_connections (" + std::to_string(limits.max_connections) + ")");
    }
  } else {
    // All but an eighth: one address cannot take the slots every other client needs, and a NAT
    // or terminal server carrying many users behind one address is not refused by a tight
    // default. Small limits keep their meaning (4 stays 4 for one client).
    limits.max_connections_per_client = limits.max_connections - limits.max_connections / 8;
  }
  const std::pair<const char*, std::chrono::milliseconds*> timeouts[] = {
      {"head_timeout", &limits.head_timeout},
      {"idle_timeout", &limits.idle_timeout},
      {"upstream_response_timeout", &limits.upstream_response_timeout},
      {"tunnel_idle_timeout", &limits.tunnel_idle_timeout},
      {"shutdown_grace", &limits.shutdown_grace},
      {"drain_delay", &limits.drain_delay}};
  for (const auto& [key, target] : timeouts) {
    if (const auto v = node[key]) {
      *target = duration(v, std::string("limits.") + key);
    }
  }
}

Config defaults(const std::filesystem::path& base) {
  Config config;
  config.listen = {Endpoint{"0.0.0.0", 3128}};
  for (const char* prefix : {"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}) {
    config.clients_allow.push_back(*parse_cidr(prefix));
  }
  config.ca.cert = base / "certs/ca.crt";
  config.ca.key = base / "certs/ca.key";
  auto& tr = config.tenant_restrictions;
  tr.auth_hosts = default_auth_hosts();
  tr.msa_hosts = default_msa_hosts();
  tr.exclude = documented_exclusions();
  config.admin.listen = Endpoint{"127.0.0.1", 9090};
  for (const auto prefix : default_sign_in_addresses()) {
    config.sign_in_guard.addresses.push_back(*parse_cidr(prefix));
  }
  for (const auto name : default_guard_tunnel_names()) {
    config.sign_in_guard.tunnel_names.emplace_back(name);
  }
  config.egress.connect_ports = {PortRange{443, 443}};
  config.egress.forward_ports = {PortRange{80, 80}};
  for (const auto prefix : default_egress_deny()) {
    config.egress.deny.push_back(*parse_cidr(prefix));
  }
  return config;
}

Config load_root(const YAML::Node& root, const std::filesystem::path& base) {
  if (!root || root.IsNull()) {
    fail("config", "is empty; tenant_restrictions is required");
  }
  expect_map(root, "",
             {"listen", "threads",     "clients",  "ca",     "upstream", "tenant_restrictions", "block",
              "admin",  "log",         "limits",   "egress", "allow",    "sign_in_guard",       "proxy_protocol",
              "pac",    "watch_files", "profiles", "tls",    "apps",     "transparent"});
  auto config = defaults(base);
  if (const auto v = root["listen"]) {
    load_listen(v, config);
  }
  if (const auto v = root["threads"]) {
    config.threads = static_cast<unsigned>(whole_number(v, "threads", 0, 256));
  }
  if (const auto v = root["clients"]) {
    load_clients(v, config);
  }
  if (const auto v = root["ca"]) {
    load_ca(v, base, config);
  }
  if (const auto v = root["tls"]) {
    load_tls(v, base, config);
  }
  if (const auto v = root["upstream"]) {
    load_upstream(v, base, config);
  }
  load_tenant_restrictions(required(root, "tenant_restrictions", ""), config);
  if (const auto v = root["profiles"]) {
    load_profiles(v, config);
  }
  if (const auto v = root["block"]) {
    config.block = host_pattern_list(v, "block");
  }
  if (const auto v = root["allow"]) {
    config.allow = host_pattern_list(v, "allow");
  }
  check_block_spares_sign_in(config);
  if (const auto v = root["apps"]) {
    config.apps = load_apps(v, "apps");
  }
  check_app_hosts(config);
  if (const auto v = root["sign_in_guard"]) {
    load_sign_in_guard(v, config);
  }
  if (const auto v = root["admin"]) {
    load_admin(v, config);
  }
  if (const auto v = root["log"]) {
    load_log(v, base, config);
  }
  if (const auto v = root["limits"]) {
    load_limits(v, config);
  }
  if (const auto v = root["egress"]) {
    load_egress(v, config);
  }
  if (const auto v = root["proxy_protocol"]) {
    load_proxy_protocol(v, config);
  }
  if (const auto v = root["pac"]) {
    load_pac(v, config);
  }
  if (const auto v = root["transparent"]) {
    load_transparent(v, config);
  }
  if (const auto v = root["watch_files"]) {
    config.watch_files = boolean(v, "watch_files");
  }
  return config;
}

// The line (1-based) of the deepest part of `path` ("a.b[2].c", map keys may hold dots) that the
// document has: the key's line for a mapping entry, the item's for a list item.
std::optional<int> line_of(const YAML::Node& root, std::string_view path) {
  YAML::Node node;
  node.reset(root);  // reset, not =: assigning a Node would overwrite the document
  std::optional<int> line;
  while (!path.empty()) {
    if (path.front() == '[') {
      const auto close = path.find(']');
      std::size_t index = 0;
      const auto digits = path.substr(1, close == std::string_view::npos ? 0 : close - 1);
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          !node.IsSequence() || (index = std::stoul(std::string(digits))) >= node.size()) {
        break;
      }
      const YAML::Node item = node[index];
      node.reset(item);
      if (const auto mark = node.Mark(); !mark.is_null()) line = mark.line + 1;
      path.remove_prefix(close + 1);
    } else {
      if (!node.IsMap()) break;
      std::string best;
      YAML::Node key_node, value_node;
      for (const auto& entry : node) {
        const auto key = entry.first.Scalar();
        const bool match = path == key || (path.size() > key.size() && path.substr(0, key.size()) == key &&
                                           (path[key.size()] == '.' || path[key.size()] == '['));
        if (match && (best.empty() || key.size() > best.size())) {
          best = key;
          key_node.reset(entry.first);
          value_node.reset(entry.second);
        }
      }
      if (best.empty()) break;
      if (const auto mark = key_node.Mark(); !mark.is_null()) line = mark.line + 1;
      node.reset(value_node);
      path.remove_prefix(best.size());
    }
    if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  }
  return line;
}

std::string place(const std::string& source_name, int line) {
  return source_name.empty() ? std::string() : source_name + ":" + std::to_string(line) + ": ";
}

Config parse(std::string_view yaml, const std::filesystem::path& base, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    throw ConfigError(place(source_name, error.mark.line + 1) + "config: YAML syntax error at line " +
                      std::to_string(error.mark.line + 1) + ", column " + std::to_string(error.mark.column + 1) + ": " +
                      error.msg);
  }
  try {
    return load_root(root, base);
  } catch (const ConfigError& error) {
    const auto line = source_name.empty() || error.key_path().empty() ? std::nullopt : line_of(root, error.key_path());
    if (!line) throw;
    throw ConfigError(error.key_path(), place(source_name, *line) + error.what());
  } catch (const YAML::Exception& error) {
    throw ConfigError(place(source_name, error.mark.line + 1) + "config: line " + std::to_string(error.mark.line + 1) +
                      ": " + error.msg);
  }
}

}  // namespace

Config load_config_text(std::string_view yaml, const std::filesystem::path& base_dir, const std::string& source_name) {
  return parse(yaml, base_dir, source_name);
}

Config load_config_file(const std::filesystem::path& file) {
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const auto why = errno ? ": " + std::system_category().message(errno) : std::string();
    throw ConfigError("config: cannot read " + quoted(file.string()) + why);
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto absolute = std::filesystem::absolute(file);
  auto config = parse(text.str(), absolute.parent_path(), file.string());
  config.source = absolute;
  config.source_text = text.str();
  return config;
}

const char* to_string(LeafKeyType type) {
  return type == LeafKeyType::ec_p256 ? "ec-p256" : "rsa-2048";
}

const char* to_string(TransparentMethod method) {
  return method == TransparentMethod::redirect ? "redirect" : "tproxy";
}

const char* to_string(GuardAction action) {
  return action == GuardAction::refuse ? "refuse" : "log";
}

const char* to_string(LogFormat format) {
  return format == LogFormat::text ? "text" : "json";
}

const char* to_string(Mode mode) {
  return mode == Mode::v1 ? "v1" : "v2";
}

const char* to_string(Enforcement enforcement) {
  return enforcement == Enforcement::enforce ? "enforce" : "report";
}

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

}  // namespace trproxy::config
