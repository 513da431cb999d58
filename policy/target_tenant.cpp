#include "policy/target_tenant.hpp"

#include "config/syntax.hpp"

#include <algorithm>
#include <array>

namespace trproxy::policy {
namespace {

// Extensions of files the sign-in hosts serve at the top level; none is a top-level domain.
constexpr std::array<std::string_view, 16> file_extensions{"ico", "js",   "css",  "png",  "svg",  "gif",
                                                           "jpg", "srf",  "htm",  "html", "aspx", "txt",
                                                           "xml", "json", "woff", "woff2"};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

bool is_tenant_domain(std::string_view segment) {
  if (!segment.empty() && segment.back() == '.') segment.remove_suffix(1);
  if (!config::is_domain_name(segment)) return false;
  const auto last = lower(segment.substr(segment.rfind('.') + 1));
  const bool has_letter = std::any_of(last.begin(), last.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  return has_letter && std::find(file_extensions.begin(), file_extensions.end(), last) == file_extensions.end();
}

}  // namespace

std::string target_tenant(std::string_view target) {
  if (target.empty()) return {};
  if (target.front() != '/') {
    const auto scheme = target.find("://");
    if (scheme == std::string_view::npos) return {};
    const auto path = target.find('/', scheme + 3);
    if (path == std::string_view::npos) return {};
    target.remove_prefix(path);
  }
  target.remove_prefix(1);
  const auto segment = target.substr(0, target.find_first_of("/?#;"));
  if (segment.empty()) return {};
  auto tenant = lower(segment);
  if (tenant == "common" || tenant == "organizations" || tenant == "consumers" || config::is_guid(tenant)) {
    return tenant;
  }
  if (is_tenant_domain(segment)) {
    if (tenant.back() == '.') tenant.pop_back();
    return tenant;
  }
  return {};
}

}  // namespace trproxy::policy
