#pragma once
// X.509 name constraints (RFC 5280, 4.2.1.10) of the internal CA: which names `ca init` lets the
// CA vouch for, and whether a loaded CA may vouch for a host. A CA limited to the sign-in hosts
// cannot be used to impersonate anything else, even if its key leaks.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "tls/openssl.hpp"

namespace trproxy::tls {

struct NameConstraints {
  bool critical = true;
  // DNS subtrees, as written in the certificate ("login.live.com", or ".example.com").
  std::vector<std::string> permitted_dns;
  std::vector<std::string> excluded_dns;
  // Every other kind of subtree, in display form: "IP:0.0.0.0/0", "IP:::/0", "email:...",
  // "URI:...", "dirName:...". Only IP ranges are ever written by trproxy.
  std::vector<std::string> permitted_other;
  std::vector<std::string> excluded_other;

  [[nodiscard]] bool empty() const {
    return permitted_dns.empty() && excluded_dns.empty() && permitted_other.empty() && excluded_other.empty();
  }
  bool operator==(const NameConstraints&) const = default;
};

// True when `name` lies in the DNS subtree `subtree` (RFC 5280: the subtree itself or any name
// made by adding labels on the left; a leading-dot subtree ".example.com" holds only names
// below example.com, as OpenSSL, NSS and Chromium read it; an empty subtree holds every name).
// ASCII case-insensitive; one trailing dot on either side is ignored.
bool dns_name_within(std::string_view name, std::string_view subtree);

enum class DnsVerdict { permitted, excluded, not_permitted };
const char* to_string(DnsVerdict verdict);

// What a certificate chain through a CA with these constraints may say about `host`: excluded
// when an excluded subtree holds it, not_permitted when there are permitted DNS subtrees and
// none holds it, permitted otherwise (no DNS subtree constrains DNS names).
DnsVerdict check_dns_name(const NameConstraints& constraints, std::string_view host);

// False when the constraints leave every DNS name permitted (no permitted DNS subtree).
bool limits_dns_names(const NameConstraints& constraints);

// What `ca init` writes for a configuration: permitted = the intercepted hosts; excluded = the
// exclusions that lie under a permitted name (device.login.microsoftonline.com under
// login.microsoftonline.com) and every IPv4 and IPv6 address.
// App host patterns are permitted too, a "*.suffix" wildcard as the subtree "suffix".
NameConstraints constraints_for(const config::TenantRestrictions& tenant_restrictions,
                                const std::vector<std::string>& app_hosts = {});

// The DNS subtree that covers an app host pattern: "*.google.com" -> "google.com".
std::string_view subtree_of(std::string_view host_pattern);

// The extension value for OpenSSL's X509V3_EXT_conf_nid ("critical,permitted;DNS:...").
std::string to_openssl_conf(const NameConstraints& constraints);

// "DNS:a, DNS:b, IP:0.0.0.0/0" for the permitted (or excluded) subtrees; "(none)" when empty.
std::string describe_subtrees(const NameConstraints& constraints, bool permitted);

// Reads the nameConstraints extension; nullopt when the certificate has none. Throws TlsError
// when the extension is present but cannot be decoded.
std::optional<NameConstraints> read_name_constraints(X509* cert);

}  // namespace trproxy::tls
