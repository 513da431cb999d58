#include "proxy/session/sign_in_outcome.hpp"

#include "policy/target_tenant.hpp"

namespace trproxy::proxy {

ProfileCells& start_sign_in(ClientConnection& connection, const policy::Policy& policy,
                            const policy::ProfileRules& profile, policy::HostClass host_class, RequestLog& line) {
  auto& cells = connection.worker.sign_in_cells(connection.services.sign_in, policy, profile);
  cells.request(profile.enforcement, host_class);
  line.profile = profile.name;
  line.enforcement = config::to_string(profile.enforcement);
  if (host_class == policy::HostClass::auth) line.tenant = policy::target_tenant(line.target);
  return cells;
}

void record_outcome(ClientConnection& connection, const policy::ResponseWatch& watch, ProfileCells& cells,
                    const policy::ProfileRules& profile, RequestLog& line) {
  auto& sign_in = connection.services.sign_in;
  if (watch.restrict_access_confirm()) sign_in.confirmed(connection.worker.index());
  const auto code = watch.outcome();
  if (code) {
    cells.block(*code);
    line.outcome = policy::to_string(*code);
  }
  if (!line.tenant.empty()) {
    connection.worker.tenants().record(line.tenant, profile.name, std::chrono::system_clock::now(), code.has_value());
  }
}

}  // namespace trproxy::proxy
