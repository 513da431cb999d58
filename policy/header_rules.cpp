#include "policy/header_rules.hpp"

#include "config/loader.hpp"

namespace trproxy::policy {
namespace {

std::string header_line(std::string_view name, std::string_view value, const std::string& key) {
  std::string line;
  line.reserve(name.size() + value.size() + 4);
  line.append(name).append(": ").append(value).append("\r\n");
  if (line.size() > max_inserted_header_line) {
    throw config::ConfigError(key + ": the " + std::string(name) + " header would be " + std::to_string(line.size()) +
                              " bytes, over the " + std::to_string(max_inserted_header_line) + "-byte limit");
  }
  return line;
}

}  // namespace

std::string render_app_block(const config::App& app, const std::string& path) {
  std::string block;
  for (const auto& header : app.headers) block += header_line(header.name, header.value, path);
  return block;
}

HeaderRules::HeaderRules(const config::TenantHeaders& tr, const std::string& path) {
  if (tr.mode == config::Mode::v2) {
    const auto value = tr.v2.tenant_id + ":" + tr.v2.policy_id;
    auth_block_ = header_line(restrict_tenant_access_policy, value, path + ".v2");
    msa_block_ = auth_block_;
    return;
  }
  std::string tenants;
  for (const auto& tenant : tr.v1.allowed_tenants) {
    if (!tenants.empty()) {
      tenants += ',';
    }
    tenants += tenant;
  }
  auth_block_ = header_line(restrict_access_to_tenants, tenants, path + ".v1.allowed_tenants") +
                header_line(restrict_access_context, tr.v1.access_context, path + ".v1.access_context");
  if (tr.v1.restrict_msa) {
    msa_block_ = header_line(restrict_tenant_access_policy, "restrict-msa", path + ".v1.restrict_msa");
  }
}

std::string_view HeaderRules::inserted_block(HostClass host_class) const {
  switch (host_class) {
    case HostClass::auth: return auth_block_;
    case HostClass::msa: return msa_block_;
    default: return {};
  }
}

}  // namespace trproxy::policy
