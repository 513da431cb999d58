#include "proxy/session/sign_in_outcome.hpp"

#include "policy/target_tenant.hpp"

namespace trproxy::proxy {

OutcomeCells start_sign_in(ClientConnection& connection, const policy::Policy& policy,
                           const policy::ProfileRules& profile, policy::HostClass host_class, policy::AppId app,
                           RequestLog& line) {
  auto& metrics = connection.services.sign_in;
  OutcomeCells cells{nullptr, nullptr, host_class, app};
  line.profile = profile.name;
  line.enforcement = config::to_string(profile.enforcement);
  if (host_class == policy::HostClass::app) {
    cells.app = &connection.worker.app_cells(metrics, policy, profile, app);
    cells.app->request(profile.enforcement);
    line.app = policy.apps()[app].name;
    return cells;
  }
  cells.sign_in = &connection.worker.sign_in_cells(metrics, policy, profile);
  cells.sign_in->request(profile.enforcement, host_class);
  if (host_class == policy::HostClass::auth) line.tenant = policy::target_tenant(line.target);
  return cells;
}

policy::ResponseWatch response_watch_for(ClientConnection& connection, const policy::Policy& policy,
                                         const OutcomeCells& cells) {
  auto& budget = connection.services.sign_in.decode_budget;
  if (cells.host_class != policy::HostClass::app) return {cells.host_class, budget};
  return {cells.host_class, budget, policy.apps()[cells.app_id].block == config::BlockSignal::body_contains};
}

namespace {

// An app's documented block response to a request that carried the app's header: its error text,
// or GitHub's 403. In report mode nothing was inserted, so neither is the header's doing.
void record_app_outcome(const policy::Policy& policy, const policy::ResponseWatch& watch, const OutcomeCells& cells,
                        const policy::ProfileRules& profile, int upstream_status, RequestLog& line) {
  const auto& app = policy.apps()[cells.app_id];
  if (profile.reports()) return;
  if (const auto code = watch.outcome()) {
    line.outcome = policy::to_string(*code);
  } else if (app.block == config::BlockSignal::status_403 && upstream_status == 403) {
    line.outcome = "blocked (403)";
  } else {
    return;
  }
  cells.app->blocked.add();
}

}  // namespace

void record_outcome(ClientConnection& connection, const policy::Policy& policy, const policy::ResponseWatch& watch,
                    const OutcomeCells& cells, const policy::ProfileRules& profile, int upstream_status,
                    RequestLog& line) {
  if (cells.app != nullptr) {
    record_app_outcome(policy, watch, cells, profile, upstream_status, line);
    return;
  }
  auto& sign_in = connection.services.sign_in;
  if (watch.restrict_access_confirm()) sign_in.confirmed(connection.worker.index());
  const auto code = watch.outcome();
  if (code) {
    cells.sign_in->block(*code);
    line.outcome = policy::to_string(*code);
  }
  if (!line.tenant.empty()) {
    connection.worker.tenants().record(line.tenant, profile.name, std::chrono::system_clock::now(), code.has_value());
  }
}

}  // namespace trproxy::proxy
