#include "policy/host_class.hpp"

#include "config/syntax.hpp"

#include "policy/http_chars.hpp"

#include <algorithm>

namespace trproxy::policy {
namespace {

constexpr std::size_t max_host_length = 253;

}  // namespace

const char* to_string(HostClass host_class) {
  switch (host_class) {
    case HostClass::auth: return "auth";
    case HostClass::msa: return "msa";
    case HostClass::app: return "app";
    case HostClass::excluded: return "excluded";
    case HostClass::blocked: return "blocked";
    case HostClass::other: return "other";
    case HostClass::invalid: return "invalid";
  }
  return "invalid";
}

bool is_plain_ascii_host(std::string_view host) {
  if (host.empty() || host.size() > max_host_length + 1 || host.front() == '.' || host.back() == '.' ||
      host.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == ':';
  });
}

HostClassifier::HostClassifier(const config::Config& config) : apps_(config) {
  const auto& tr = config.tenant_restrictions;
  auto add = [this](const std::vector<std::string>& hosts, HostClass host_class) {
    for (const auto& host : hosts) {
      const bool known = std::any_of(hosts_.begin(), hosts_.end(), [&](const auto& e) { return e.first == host; });
      if (!known) {
        hosts_.emplace_back(host, host_class);
      }
    }
  };
  // Order is precedence: the first list naming a host decides its class.
  add(config::documented_exclusions(), HostClass::excluded);
  add(tr.exclude, HostClass::excluded);
  add(tr.auth_hosts, HostClass::auth);
  add(tr.msa_hosts, HostClass::msa);
  block_ = config.block;
  allow_ = config.allow;
}

HostMatch HostClassifier::match(std::string_view host) const {
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  if (!is_plain_ascii_host(host)) {
    return {HostClass::invalid};
  }
  HostMatch named;
  for (const auto& [name, host_class] : hosts_) {
    if (chars::iequals(host, name)) {  // `name` is normalised (lower case, no trailing dot)
      named.host_class = host_class;
      break;
    }
  }
  if (named.host_class == HostClass::other && !apps_.empty()) {
    if (const auto app = apps_.app_of(host)) named = {HostClass::app, *app};
  }
  // Exclusions win over everything; a block (exact or "*.") wins over the rest unless `allow`
  // excepts the host (the loader refuses a block that would catch a sign-in host).
  if (named.host_class == HostClass::excluded) return named;
  if (config::host_matches_any(host, block_) && !config::host_matches_any(host, allow_)) return {HostClass::blocked};
  return named;
}

}  // namespace trproxy::policy
