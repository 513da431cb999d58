#pragma once
// What trproxy learns about sign-ins (DESIGN.md, "Sign-in outcomes", /tenants, metrics):
// request and block counters per profile, Restrict-Access-Confirm responses, and each
// worker's table of the target tenants it has seen.

#include "policy/block_codes.hpp"
#include "policy/host_class.hpp"
#include "policy/policy.hpp"
#include "policy/response_watch.hpp"
#include "proxy/observe/metrics.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trproxy::proxy {

// The counters of one profile name on one worker. Created when a configuration first names the
// profile and never freed, so a request may keep a pointer to them across any reload. One per
// worker (its own cache lines): counting never bounces a line between cores.
struct alignas(64) ProfileCells {
  std::array<std::array<Counter, 2>, 2> requests;  // [enforce, report][auth, msa]
  std::array<Counter, policy::block_code_count> blocked;

  void request(config::Enforcement enforcement, policy::HostClass host_class) {
    requests[enforcement == config::Enforcement::report][host_class == policy::HostClass::msa].add();
  }
  void block(policy::BlockCode code) { blocked[static_cast<std::size_t>(code)].add(); }
};

// The counters of one app for one profile name on one worker (DESIGN.md, "Tenant control for
// other SaaS apps", metrics). Like ProfileCells, never freed.
struct alignas(64) AppCells {
  std::array<Counter, 2> requests;  // [enforce, report]
  Counter blocked;                  // the vendor's documented block response

  void request(config::Enforcement enforcement) { requests[enforcement == config::Enforcement::report].add(); }
};

class SignInMetrics {
 public:
  // Response bodies are decoded with at most this much memory in all (zlib and brotli states).
  static constexpr std::size_t decoder_budget_bytes = 64 * 1024 * 1024;

  // One shard per worker: `shard` below is the worker's index.
  explicit SignInMetrics(std::size_t shards);

  // Worker `shard`'s cells of every profile of `policy`, in Policy::profiles() order. Takes a
  // lock: call it once per configuration (Worker does), not per request.
  std::vector<ProfileCells*> cells_for(const policy::Policy& policy, std::size_t shard);
  // Worker `shard`'s cells of every app of every profile of `policy`: profile i's app a is at
  // i * policy.apps().size() + a. Same locking as cells_for.
  std::vector<AppCells*> app_cells_for(const policy::Policy& policy, std::size_t shard);

  // A sign-in response carried Restrict-Access-Confirm (counted on worker `shard`).
  void confirmed(std::size_t shard) { confirms_[shard].count.add(); }

  policy::DecodeBudget decode_budget{decoder_budget_bytes};

  // trproxy_sign_in_requests_total, trproxy_sign_in_blocked_total and
  // trproxy_restrict_access_confirm_total: every series `current` makes possible (its profiles,
  // their enforcement, both sign-in host classes, every code), plus any other that has counted.
  [[nodiscard]] std::string render(const policy::Policy& current) const;
  // trproxy_app_requests_total and trproxy_app_blocked_total: the pairs of app and profile that
  // `current` configures (blocked: where the vendor documents a block response), plus any other
  // that has counted.
  [[nodiscard]] std::string render_apps(const policy::Policy& current) const;

 private:
  struct alignas(64) ConfirmShard {
    Counter count;
  };

  std::size_t shards_;
  std::vector<ConfirmShard> confirms_;
  mutable std::mutex mutex_;
  // Per profile name, one cell per shard.
  std::map<std::string, std::vector<std::unique_ptr<ProfileCells>>, std::less<>> cells_;
  // Per (app, profile) name pair, one cell per shard.
  std::map<std::pair<std::string, std::string>, std::vector<std::unique_ptr<AppCells>>> app_cells_;
};

// One target tenant as the /tenants report shows it.
struct TenantSeen {
  std::string tenant;
  std::uint64_t requests = 0;
  std::uint64_t blocked = 0;
  std::chrono::system_clock::time_point last_seen;
  std::vector<std::string> profiles;  // in the order first seen
};

// The target tenants one worker has seen, most recent first, bounded: when full, the least
// recently seen tenant goes. Touched only on its worker's thread (no lock); the admin endpoint
// asks each worker for a snapshot on that worker's thread.
class TenantTable {
 public:
  static constexpr std::size_t capacity = 10'000;
  static constexpr std::size_t max_profiles = 32;  // per tenant

  explicit TenantTable(std::size_t limit = capacity) : limit_(limit) {}
  void record(std::string_view tenant, std::string_view profile, std::chrono::system_clock::time_point now,
              bool blocked);
  [[nodiscard]] std::vector<TenantSeen> snapshot() const;
  [[nodiscard]] std::size_t size() const { return order_.size(); }

 private:
  std::size_t limit_;
  std::list<TenantSeen> order_;  // most recently seen first
  // Keys view the tenant strings of the list nodes, which never move.
  std::unordered_map<std::string_view, std::list<TenantSeen>::iterator> index_;
};

// Merges the workers' snapshots (a tenant seen by several: counts added, the latest time,
// profiles joined) and renders the /tenants JSON, most recent first, at most `limit` entries.
std::string tenants_json(const std::vector<std::vector<TenantSeen>>& shards, std::size_t limit = TenantTable::capacity);

}  // namespace trproxy::proxy
