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

void print_block(std::ostringstream& out, const char* label, std::string_view block) {
  out << "  " << label << ":\n";
  if (block.empty()) {
    out << "    (no header inserted; client copies are still stripped)\n";
    return;
  }
  std::size_t pos = 0;
  while (pos < block.size()) {
    const auto end = block.find("\r\n", pos);
    const auto line = block.substr(pos, end - pos);
    out << "    " << line << "   [" << line.size() + 2 << " bytes on the wire]\n";
    pos = end + 2;
  }
}

}  // namespace

Policy::Policy(config::Config config, std::uint64_t revision)
    : config_(std::move(config)), hosts_(config_), headers_(config_.tenant_restrictions), revision_(revision) {}

std::string summarize(const Policy& policy) {
  const auto& c = policy.config();
  const auto& tr = c.tenant_restrictions;
  std::ostringstream out;
  out << "config OK" << (c.source.empty() ? "" : ": " + c.source.string()) << "\n";
  out << "mode: tenant restrictions " << config::to_string(tr.mode) << "\n";
  out << "inserted headers:\n";
  print_block(out, "auth hosts", policy.headers().inserted_block(HostClass::auth));
  print_block(out, "MSA hosts", policy.headers().inserted_block(HostClass::msa));
  out << "auth hosts (intercepted): " << join(tr.auth_hosts) << "\n";
  out << "MSA hosts (intercepted): " << join(tr.msa_hosts) << "\n";
  out << "excluded hosts (never intercepted): " << join(tr.exclude) << "\n";
  out << "blocked hosts (403): " << join(c.block) << "\n";
  std::vector<std::string> listen;
  for (const auto& endpoint : c.listen) listen.push_back(endpoint.to_string());
  out << "listen: " << join(listen) << "\n";
  out << "admin: " << (c.admin.listen ? c.admin.listen->to_string() : "disabled") << "\n";
  std::vector<std::string> allow;
  for (const auto& cidr : c.clients_allow) allow.push_back(cidr.text);
  out << "clients allowed: " << join(allow) << "\n";
  out << "CA: " << c.ca.cert.string() << " (leaf keys " << config::to_string(c.ca.leaf_key) << ")\n";
  out << "upstream trust: " << (c.upstream.trusts_system() ? "system" : c.upstream.trust_bundle.string()) << "\n";
  for (const auto& [host, endpoint] : c.upstream.resolve) {
    out << "upstream resolve: " << host << " -> " << endpoint.to_string() << "\n";
  }
  return out.str();
}

}  // namespace trproxy::policy
