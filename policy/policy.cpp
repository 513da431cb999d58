#include "policy/policy.hpp"

#include <sstream>

namespace trproxy::policy {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : ", ";
    out += item;
  }
  return out.empty() ? "(none)" : out;
}

void print_block(std::ostringstream& out, const char* label, std::string_view block, bool reports = false) {
  out << "  " << label << ":\n";
  if (block.empty()) {
    out << (reports ? "    (nothing inserted, nothing stripped)\n"
                    : "    (no header inserted; client copies are still stripped)\n");
    return;
  }
  if (reports) out << "    (report mode: nothing inserted or stripped; enforce would insert:)\n";
  std::size_t pos = 0;
  while (pos < block.size()) {
    const auto end = block.find("\r\n", pos);
    const auto line = block.substr(pos, end - pos);
    out << "    " << line << "   [" << line.size() + 2 << " bytes on the wire]\n";
    pos = end + 2;
  }
}

// The header lines one profile inserts per host class, with their sizes; in report mode the
// lines enforce would insert, marked as not inserted.
void print_profile_blocks(std::ostringstream& out, const ProfileRules& profile, const AppTable& apps) {
  print_block(out, "auth hosts", profile.headers.inserted_block(HostClass::auth), profile.reports());
  print_block(out, "MSA hosts", profile.headers.inserted_block(HostClass::msa), profile.reports());
  for (std::size_t i = 0; i < apps.size(); ++i) {
    const auto id = static_cast<AppId>(i);
    if (!profile.has_app(id)) continue;
    const auto label = "app " + apps[id].name;
    print_block(out, label.c_str(), profile.enforced_block(HostClass::app, id), profile.reports());
  }
}

// Each app's hosts and where its vendor documents the header.
void print_apps(std::ostringstream& out, const AppTable& apps) {
  if (apps.empty()) {
    out << "apps (intercepted): none\n";
    return;
  }
  for (const auto& app : apps.all()) {
    out << "app " << app.name << " hosts (intercepted): " << join(app.hosts) << "\n";
    if (!app.source.empty()) out << "app " << app.name << " source: " << app.source << "\n";
  }
}

}  // namespace

Policy::Policy(config::Config config, std::uint64_t revision)
    : config_(std::move(config)), hosts_(config_), revision_(revision) {
  profiles_.reserve(config_.profiles.size() + 1);
  const auto& apps = hosts_.apps();
  profiles_.emplace_back(std::string(config::default_profile_name), config_.tenant_restrictions, "tenant_restrictions",
                         config_.apps, "apps", apps);
  for (std::size_t i = 0; i < config_.profiles.size(); ++i) {
    const auto& profile = config_.profiles[i];
    const auto path = "profiles[" + std::to_string(i) + "]";
    if (profile.apps) {
      profiles_.emplace_back(profile.name, profile, path, *profile.apps, path + ".apps", apps);
    } else {
      profiles_.emplace_back(profile.name, profile, path, config_.apps, "apps", apps);
    }
  }
}

HostMatch Policy::match(std::string_view host, const ProfileRules& profile) const {
  auto found = hosts_.match(host);
  // An app the client's profile does not name is none of the proxy's business for this client.
  if (found.host_class == HostClass::app && !profile.has_app(found.app)) return {HostClass::other};
  return found;
}

const ProfileRules& Policy::profile_for(const std::optional<config::IpAddress>& client) const {
  const auto index = select_profile(config_.profiles, client);
  return index ? profiles_[*index + 1] : profiles_.front();
}

std::string summarize(const Policy& policy) {
  const auto& c = policy.config();
  const auto& tr = c.tenant_restrictions;
  std::ostringstream out;
  out << "config OK" << (c.source.empty() ? "" : ": " + c.source.string()) << "\n";
  out << "mode: tenant restrictions " << config::to_string(tr.mode) << "\n";
  out << "enforcement: " << config::to_string(tr.enforcement) << "\n";
  out << "inserted headers:\n";
  print_profile_blocks(out, policy.default_profile(), policy.apps());
  for (std::size_t i = 0; i < c.profiles.size(); ++i) {
    const auto& profile = c.profiles[i];
    std::vector<std::string> clients;
    for (const auto& cidr : profile.clients) clients.push_back(cidr.text);
    out << "profile " << profile.name << ": " << config::to_string(profile.mode) << ", "
        << config::to_string(profile.enforcement) << ", clients " << join(clients) << "\n";
    print_profile_blocks(out, policy.profiles()[i + 1], policy.apps());
  }
  if (!c.profiles.empty()) out << "profile default: every other client\n";
  out << "auth hosts (intercepted): " << join(tr.auth_hosts) << "\n";
  out << "MSA hosts (intercepted): " << join(tr.msa_hosts) << "\n";
  print_apps(out, policy.apps());
  out << "excluded hosts (never intercepted): " << join(tr.exclude) << "\n";
  out << "blocked hosts (403): " << join(c.block) << "\n";
  std::vector<std::string> listen;
  for (const auto& endpoint : c.listen) listen.push_back(endpoint.to_string());
  out << "listen: " << join(listen) << "\n";
  std::vector<std::string> transparent;
  for (const auto& endpoint : c.transparent.listen) transparent.push_back(endpoint.to_string());
  out << "transparent listeners: "
      << (transparent.empty() ? std::string("none (off)")
                              : join(transparent) + " (method " + config::to_string(c.transparent.method) + ")")
      << "\n";
  out << "upstream mark: " << (c.upstream.mark == 0 ? std::string("none") : std::to_string(c.upstream.mark)) << "\n";
  out << "admin: " << (c.admin.listen ? c.admin.listen->to_string() : "disabled") << "\n";
  std::vector<std::string> allow;
  for (const auto& cidr : c.clients_allow) allow.push_back(cidr.text);
  out << "clients allowed: " << join(allow) << "\n";
  std::vector<std::string> balancers;
  for (const auto& cidr : c.proxy_protocol.trusted) balancers.push_back(cidr.text);
  out << "PROXY protocol from: " << (balancers.empty() ? "nobody (off)" : join(balancers)) << "\n";
  out << "CA: " << c.ca.cert.string() << " (leaf keys " << config::to_string(c.ca.leaf_key) << ")\n";
  out << "session tickets: "
      << (c.tls.ticket_keys.empty() ? "keys generated in memory, rotated hourly"
                                    : "keys from " + c.tls.ticket_keys.string() + " (shared by replicas)")
      << "\n";
  out << "upstream via: " << (c.upstream.proxy ? "parent proxy " + c.upstream.proxy->to_string() : "direct") << "\n";
  out << "upstream trust: " << (c.upstream.trusts_system() ? "system" : c.upstream.trust_bundle.string()) << "\n";
  for (const auto& [host, endpoint] : c.upstream.resolve) {
    out << "upstream resolve: " << host << " -> " << endpoint.to_string() << "\n";
  }
  return out.str();
}

}  // namespace trproxy::policy
