#include "proxy/observe/sign_in_stats.hpp"

#include "config/syntax.hpp"
#include "proxy/observe/access_record.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace trproxy::proxy {
namespace {

constexpr std::array<config::Enforcement, 2> enforcements{config::Enforcement::enforce, config::Enforcement::report};
constexpr std::array<policy::HostClass, 2> sign_in_classes{policy::HostClass::auth, policy::HostClass::msa};

}  // namespace

SignInMetrics::SignInMetrics(std::size_t shards) : shards_(std::max<std::size_t>(shards, 1)), confirms_(shards_) {}

std::vector<ProfileCells*> SignInMetrics::cells_for(const policy::Policy& policy, std::size_t shard) {
  std::lock_guard lock(mutex_);
  std::vector<ProfileCells*> out;
  for (const auto& profile : policy.profiles()) {
    auto& cells = cells_[profile.name];
    if (cells.empty()) {
      for (std::size_t i = 0; i < shards_; ++i) cells.push_back(std::make_unique<ProfileCells>());
    }
    out.push_back(cells[shard].get());
  }
  return out;
}

std::vector<AppCells*> SignInMetrics::app_cells_for(const policy::Policy& policy, std::size_t shard) {
  std::lock_guard lock(mutex_);
  std::vector<AppCells*> out;
  for (const auto& profile : policy.profiles()) {
    for (const auto& app : policy.apps().all()) {
      auto& cells = app_cells_[{app.name, profile.name}];
      if (cells.empty()) {
        for (std::size_t i = 0; i < shards_; ++i) cells.push_back(std::make_unique<AppCells>());
      }
      out.push_back(cells[shard].get());
    }
  }
  return out;
}

std::string SignInMetrics::render_apps(const policy::Policy& current) const {
  std::lock_guard lock(mutex_);
  struct Totals {
    std::array<std::uint64_t, 2> requests{};
    std::uint64_t blocked = 0;
    const policy::ProfileRules* profile = nullptr;  // configured now, naming the app
    const policy::AppRule* app = nullptr;
  };
  std::map<std::pair<std::string_view, std::string_view>, Totals> rows;
  for (const auto& [names, cells] : app_cells_) {
    auto& sum = rows[{names.first, names.second}];
    for (const auto& cell : cells) {
      for (std::size_t e = 0; e < 2; ++e) sum.requests[e] += cell->requests[e].get();
      sum.blocked += cell->blocked.get();
    }
  }
  for (const auto& profile : current.profiles()) {
    for (std::size_t a = 0; a < current.apps().size(); ++a) {
      if (!profile.has_app(static_cast<policy::AppId>(a))) continue;
      auto& row = rows[{current.apps()[static_cast<policy::AppId>(a)].name, profile.name}];
      row.profile = &profile;
      row.app = &current.apps()[static_cast<policy::AppId>(a)];
    }
  }
  std::ostringstream out;
  out << "# HELP trproxy_app_requests_total Requests to SaaS app hosts by app, client profile and enforcement "
         "(enforce: the app's headers set; report: forwarded unchanged).\n"
         "# TYPE trproxy_app_requests_total counter\n";
  for (const auto& [names, row] : rows) {
    for (std::size_t e = 0; e < 2; ++e) {
      if (row.requests[e] == 0 && !(row.profile && row.profile->enforcement == enforcements[e])) continue;
      out << "trproxy_app_requests_total{app=\"" << names.first << "\",profile=\"" << names.second
          << "\",enforcement=\"" << config::to_string(enforcements[e]) << "\"} " << row.requests[e] << '\n';
    }
  }
  out << "# HELP trproxy_app_blocked_total Responses from SaaS app hosts matching the vendor's documented block "
         "response (GitHub: 403; Claude: tenant_restriction_violation), by app and client profile.\n"
         "# TYPE trproxy_app_blocked_total counter\n";
  for (const auto& [names, row] : rows) {
    const bool documented = row.app != nullptr && row.app->block != config::BlockSignal::none;
    if (row.blocked == 0 && !documented) continue;
    out << "trproxy_app_blocked_total{app=\"" << names.first << "\",profile=\"" << names.second << "\"} " << row.blocked
        << '\n';
  }
  return out.str();
}

std::string SignInMetrics::render(const policy::Policy& current) const {
  std::lock_guard lock(mutex_);
  // Every profile with counters (summed over the workers), and the current ones (at zero until
  // a worker first counts one).
  struct Totals {
    std::array<std::array<std::uint64_t, 2>, 2> requests{};
    std::array<std::uint64_t, policy::block_code_count> blocked{};
  };
  std::map<std::string_view, Totals> rows;
  for (const auto& [name, cells] : cells_) {
    auto& sum = rows[name];
    for (const auto& cell : cells) {
      for (std::size_t e = 0; e < 2; ++e) {
        for (std::size_t c = 0; c < 2; ++c) sum.requests[e][c] += cell->requests[e][c].get();
      }
      for (std::size_t b = 0; b < sum.blocked.size(); ++b) sum.blocked[b] += cell->blocked[b].get();
    }
  }
  for (const auto& profile : current.profiles()) rows.try_emplace(profile.name);
  const auto configured = [&](std::string_view name) -> const policy::ProfileRules* {
    for (const auto& profile : current.profiles()) {
      if (profile.name == name) return &profile;
    }
    return nullptr;
  };
  std::ostringstream out;
  out << "# HELP trproxy_sign_in_requests_total Requests to the sign-in hosts by client profile, enforcement "
         "(enforce: headers set; report: forwarded unchanged) and host class.\n"
         "# TYPE trproxy_sign_in_requests_total counter\n";
  for (const auto& [name, cell] : rows) {
    const auto* profile = configured(name);
    for (std::size_t e = 0; e < enforcements.size(); ++e) {
      for (std::size_t c = 0; c < sign_in_classes.size(); ++c) {
        const auto n = cell.requests[e][c];
        if (n == 0 && !(profile && profile->enforcement == enforcements[e])) continue;
        out << "trproxy_sign_in_requests_total{profile=\"" << name << "\",enforcement=\""
            << config::to_string(enforcements[e]) << "\",host_class=\"" << policy::to_string(sign_in_classes[c])
            << "\"} " << n << '\n';
      }
    }
  }
  out << "# HELP trproxy_sign_in_blocked_total Sign-in responses carrying a tenant-restriction block code, by code "
         "and client profile.\n"
         "# TYPE trproxy_sign_in_blocked_total counter\n";
  for (const auto& [name, cell] : rows) {
    const bool current_profile = configured(name) != nullptr;
    for (const auto code : policy::all_block_codes) {
      const auto n = cell.blocked[static_cast<std::size_t>(code)];
      if (n == 0 && !current_profile) continue;
      out << "trproxy_sign_in_blocked_total{code=\"" << policy::to_string(code) << "\",profile=\"" << name << "\"} "
          << n << '\n';
    }
  }
  out << "# HELP trproxy_restrict_access_confirm_total Sign-in responses carrying Restrict-Access-Confirm.\n"
         "# TYPE trproxy_restrict_access_confirm_total counter\n"
      << "trproxy_restrict_access_confirm_total "
      << std::accumulate(confirms_.begin(), confirms_.end(), std::uint64_t{0},
                         [](std::uint64_t sum, const ConfirmShard& shard) { return sum + shard.count.get(); })
      << '\n';
  return out.str();
}

void TenantTable::record(std::string_view tenant, std::string_view profile, std::chrono::system_clock::time_point now,
                         bool blocked) {
  auto found = index_.find(tenant);
  if (found == index_.end()) {
    if (order_.size() >= limit_) {
      index_.erase(order_.back().tenant);
      order_.pop_back();
    }
    order_.push_front(TenantSeen{std::string(tenant), 0, 0, now, {}});
    found = index_.emplace(order_.front().tenant, order_.begin()).first;
  } else {
    order_.splice(order_.begin(), order_, found->second);
  }
  auto& seen = *found->second;
  ++seen.requests;
  seen.blocked += blocked ? 1 : 0;
  seen.last_seen = std::max(seen.last_seen, now);
  if (seen.profiles.size() < max_profiles &&
      std::find(seen.profiles.begin(), seen.profiles.end(), profile) == seen.profiles.end()) {
    seen.profiles.emplace_back(profile);
  }
}

std::vector<TenantSeen> TenantTable::snapshot() const {
  return {order_.begin(), order_.end()};
}

std::string tenants_json(const std::vector<std::vector<TenantSeen>>& shards, std::size_t limit) {
  std::map<std::string_view, TenantSeen> merged;
  for (const auto& shard : shards) {
    for (const auto& seen : shard) {
      auto [it, fresh] = merged.try_emplace(seen.tenant, seen);
      if (fresh) continue;
      auto& into = it->second;
      into.requests += seen.requests;
      into.blocked += seen.blocked;
      into.last_seen = std::max(into.last_seen, seen.last_seen);
      for (const auto& profile : seen.profiles) {
        if (std::find(into.profiles.begin(), into.profiles.end(), profile) == into.profiles.end()) {
          into.profiles.push_back(profile);
        }
      }
    }
  }
  std::vector<const TenantSeen*> order;
  order.reserve(merged.size());
  for (const auto& [name, seen] : merged) order.push_back(&seen);
  std::stable_sort(order.begin(), order.end(),
                   [](const TenantSeen* a, const TenantSeen* b) { return a->last_seen > b->last_seen; });
  if (order.size() > limit) order.resize(limit);
  std::string out = "{\"tenants\": [";
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& seen = *order[i];
    out += i == 0 ? "\n  {" : ",\n  {";
    out += "\"tenant\": ";
    append_json_literal(out, seen.tenant);
    out += ", \"requests\": " + std::to_string(seen.requests) + ", \"blocked\": " + std::to_string(seen.blocked) +
           ", \"last_seen\": ";
    append_json_literal(out, config::rfc3339_utc(std::chrono::system_clock::to_time_t(seen.last_seen)));
    out += ", \"profiles\": [";
    for (std::size_t p = 0; p < seen.profiles.size(); ++p) {
      if (p > 0) out += ", ";
      append_json_literal(out, seen.profiles[p]);
    }
    out += "]}";
  }
  out += order.empty() ? "]}\n" : "\n]}\n";
  return out;
}

}  // namespace trproxy::proxy
