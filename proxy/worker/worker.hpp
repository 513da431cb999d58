#pragma once
// One io thread with its own io_context (nghttpx's worker model): a connection is pinned to one
// worker for its life, so everything it touches on the data plane (its streams, the registry,
// the worker's runtime snapshot) is single-threaded and needs no strand or lock.

#include "proxy/transport/buffer_pool.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/transport/pipe_pool.hpp"
#include "proxy/upstream/dialer.hpp"
#include "proxy/upstream/pool.hpp"
#include "proxy/upstream/resolver.hpp"
#include "proxy/worker/registry.hpp"
#include "proxy/worker/runtime.hpp"
#include "proxy/worker/services.hpp"

#include <atomic>
#include <cstddef>
#include <thread>

namespace trproxy::proxy {

class Worker {
 public:
  Worker(unsigned index, RuntimePtr runtime, Services services)
      : index_(index), services_(services), pool_(io_, services_.metrics), runtime_(std::move(runtime)) {
    resolver_.count_into(services_.metrics);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { join(); }

  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    work_.reset();
    io_.stop();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] unsigned index() const { return index_; }
  net::io_context& io() { return io_; }
  [[nodiscard]] net::any_io_executor executor() { return io_.get_executor(); }
  ConnectionRegistry& registry() { return registry_; }
  // Pipes for the splice(2) tunnels of this worker's connections.
  PipePool& pipes() { return pipes_; }
  // Read buffers' storage for this worker's idle connections to give back and take again.
  BufferPool& buffers() { return buffers_; }
  // What this worker's connections use: process-wide state and this worker's metrics shard.
  Services& services() { return services_; }
  DnsResolver& resolver() { return resolver_; }
  tls::UpstreamSessions& upstream_sessions() { return upstream_sessions_; }
  UpstreamPool& pool() { return pool_; }
  // Connects upstream for this worker's connections (its resolver, metrics and TLS sessions).
  Dialer& dialer() { return dialer_; }

  // The configuration this worker serves new requests with. Replaced by a post on reload, so it
  // is only ever read and written on the worker's thread.
  [[nodiscard]] const RuntimePtr& runtime() const { return runtime_; }
  void set_runtime(RuntimePtr next) {
    runtime_ = std::move(next);
    registry_.recheck(*runtime_);
  }

  // The target tenants this worker has seen (its own thread only; /tenants snapshots it there).
  TenantTable& tenants() { return tenants_; }

  // The sign-in counters of `profile`, one of `policy`'s. The cells of a configuration are
  // looked up once per revision (under SignInMetrics' lock), not per request.
  ProfileCells& sign_in_cells(SignInMetrics& metrics, const policy::Policy& policy,
                              const policy::ProfileRules& profile) {
    refresh_cells(metrics, policy);
    return *cells_[static_cast<std::size_t>(&profile - policy.profiles().data())];
  }
  // The counters of `app` for `profile`, looked up the same way.
  AppCells& app_cells(SignInMetrics& metrics, const policy::Policy& policy, const policy::ProfileRules& profile,
                      policy::AppId app) {
    refresh_cells(metrics, policy);
    const auto index = static_cast<std::size_t>(&profile - policy.profiles().data());
    return *app_cells_[index * policy.apps().size() + app];
  }

  // Connections pinned here; read by the acceptor (another thread) to pick the least loaded.
  std::atomic<std::size_t>& load() { return load_; }

 private:
  void refresh_cells(SignInMetrics& metrics, const policy::Policy& policy) {
    if (cells_revision_ == policy.revision()) return;
    cells_ = metrics.cells_for(policy, index_);
    app_cells_ = metrics.app_cells_for(policy, index_);
    cells_revision_ = policy.revision();
  }

  unsigned index_;
  Services services_;
  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(io_);
  DnsResolver resolver_{io_};                // after io_: its sockets and timer are destroyed first
  tls::UpstreamSessions upstream_sessions_;  // before the pool: pooled connections refer to it
  UpstreamPool pool_;                        // likewise
  Dialer dialer_{DialParts{resolver_, services_.metrics, services_.self, upstream_sessions_}};
  ConnectionRegistry registry_;
  PipePool pipes_;
  BufferPool buffers_;
  RuntimePtr runtime_;
  std::atomic<std::size_t> load_{0};
  TenantTable tenants_;
  std::uint64_t cells_revision_ = 0;  // the policy revision cells_ belong to (revisions start at 1)
  std::vector<ProfileCells*> cells_;
  std::vector<AppCells*> app_cells_;
  std::thread thread_;
};

}  // namespace trproxy::proxy
