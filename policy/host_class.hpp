#pragma once
// What trproxy does with a destination host (DESIGN.md, "What it does to traffic").

#include "config/config.hpp"
#include "policy/apps.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trproxy::policy {

enum class HostClass {
  auth,      // intercept, tenant headers for the auth hosts
  msa,       // intercept, MSA header rules
  app,       // intercept, a SaaS app's headers (DESIGN.md, "Tenant control for other SaaS apps")
  excluded,  // blind tunnel, never intercepted
  blocked,   // 403
  other,     // tunnel / plain forward untouched
  invalid,   // not a plain-ASCII host name: 400
};

const char* to_string(HostClass host_class);

inline bool is_intercepted(HostClass c) {
  return c == HostClass::auth || c == HostClass::msa || c == HostClass::app;
}

// A host's class, and for an app host which app.
struct HostMatch {
  HostClass host_class = HostClass::other;
  AppId app = no_app;
  bool operator==(const HostMatch&) const = default;
};

// Exact FQDN match for the sign-in and excluded hosts, ASCII case-insensitive, one trailing dot
// ignored, no subdomain matching; app hosts, `block` and `allow` also take "*." wildcards.
// Excluded hosts win over every other list, then the sign-in hosts, then the apps' (the loader
// keeps them apart). Built once per Config; lookups never allocate.
class HostClassifier {
 public:
  explicit HostClassifier(const config::Config& config);

  [[nodiscard]] HostMatch match(std::string_view host) const;
  [[nodiscard]] HostClass classify(std::string_view host) const { return match(host).host_class; }
  [[nodiscard]] const AppTable& apps() const { return apps_; }

 private:
  AppTable apps_;
  std::vector<std::pair<std::string, HostClass>> hosts_;  // normalised names, excluded first
  std::vector<std::string> block_;                        // patterns: exact or "*.suffix"
  std::vector<std::string> allow_;
};

// True when every byte is a letter, digit, '-', '.', '_' or ':' (IPv6 literal), i.e. something we
// may safely log and connect to. Non-ASCII, spaces, controls and '%' are not.
bool is_plain_ascii_host(std::string_view host);

}  // namespace trproxy::policy
