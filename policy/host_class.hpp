#pragma once
// What trproxy does with a destination host (DESIGN.md, "What it does to traffic").

#include "config/config.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trproxy::policy {

enum class HostClass {
  auth,      // intercept, tenant headers for the auth hosts
  msa,       // intercept, MSA header rules
  excluded,  // blind tunnel, never intercepted
  blocked,   // 403
  other,     // tunnel / plain forward untouched
  invalid,   // not a plain-ASCII host name: 400
};

const char* to_string(HostClass host_class);

inline bool is_intercepted(HostClass c) {
  return c == HostClass::auth || c == HostClass::msa;
}

// Exact FQDN match for the sign-in and excluded hosts, ASCII case-insensitive, one trailing dot
// ignored, no subdomain matching; `block`/`allow` also take "*." wildcards. Excluded hosts win
// over every other list. Built once per Config; lookups never allocate.
class HostClassifier {
 public:
  explicit HostClassifier(const config::Config& config);

  [[nodiscard]] HostClass classify(std::string_view host) const;

 private:
  std::vector<std::pair<std::string, HostClass>> hosts_;  // normalised names, excluded first
  std::vector<std::string> block_;                        // patterns: exact or "*.suffix"
  std::vector<std::string> allow_;
};

// True when every byte is a letter, digit, '-', '.', '_' or ':' (IPv6 literal), i.e. something we
// may safely log and connect to. Non-ASCII, spaces, controls and '%' are not.
bool is_plain_ascii_host(std::string_view host);

}  // namespace trproxy::policy
