#pragma once
// The tenant-restriction header lines trproxy inserts, per mode and host class (DESIGN.md,
// "Header modes"), rendered once per Config into ready-to-send bytes.

#include "config/config.hpp"
#include "policy/host_class.hpp"

#include <array>
#include <string>
#include <string_view>

namespace trproxy::policy {

inline constexpr std::string_view restrict_access_to_tenants = "Restrict-Access-To-Tenants";
inline constexpr std::string_view restrict_access_context = "Restrict-Access-Context";
inline constexpr std::string_view restrict_tenant_access_policy = "sec-Restrict-Tenant-Access-Policy";

// The three names a client must never choose itself: stripped in any case, any count.
inline constexpr std::array<std::string_view, 3> tenant_restriction_header_names{
    restrict_access_to_tenants, restrict_access_context, restrict_tenant_access_policy};

// Beyond this a single inserted header line is refused at load time: common front ends
// (IIS MaxFieldLength, nginx large_client_header_buffers) reject longer fields.
inline constexpr std::size_t max_inserted_header_line = 8 * 1024;

// The lines one app inserts, in its configured order; throws config::ConfigError naming `path`
// when a line would exceed 8 KiB.
std::string render_app_block(const config::App& app, const std::string& path);

class HeaderRules {
 public:
  // Throws config::ConfigError naming the key (under `path`, e.g. "profiles[0]") when a header
  // line would exceed 8 KiB.
  explicit HeaderRules(const config::TenantHeaders& tr, const std::string& path = "tenant_restrictions");

  // The exact bytes to insert (each line ends in CRLF) for a host class; empty when none.
  [[nodiscard]] std::string_view inserted_block(HostClass host_class) const;

 private:
  std::string auth_block_;
  std::string msa_block_;
};

}  // namespace trproxy::policy
