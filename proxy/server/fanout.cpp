#include "proxy/server/fanout.hpp"

#include "proxy/worker/worker.hpp"

#include <memory>
#include <vector>

namespace trproxy::proxy {
namespace {

net::awaitable<std::vector<TenantSeen>> tenant_snapshot(Worker& worker) {
  co_return worker.tenants().snapshot();
}

}  // namespace

void on_every_worker(Workers& workers, net::io_context& control, std::function<void(Worker&)> task,
                     std::function<void()> done) {
  auto remaining = std::make_shared<std::size_t>(workers.size());
  for (auto& worker : workers) {
    net::post(worker->io(), [&control, &w = *worker, task, done, remaining] {
      task(w);
      net::post(control, [done, remaining] {
        if (--*remaining == 0 && done) done();
      });
    });
  }
}

net::awaitable<std::string> gather_tenants(Workers& workers) {
  std::vector<std::vector<TenantSeen>> shards;
  for (auto& worker : workers) {
    auto task = tenant_snapshot(*worker);
    auto shard = co_await net::co_spawn(worker->io(), std::move(task), net::use_awaitable);
    shards.push_back(std::move(shard));
  }
  co_return tenants_json(shards);
}

}  // namespace trproxy::proxy
