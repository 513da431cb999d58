// The upstream pool's bookkeeping over in-memory streams: most recently used first, a bound per
// key, the idle timeout, and connections verified under another runtime never reused. (That a
// pooled socket the server closes is dropped is proven against nginx in tests/e2e/test_upstream.py.)

#include "proxy/upstream/pool.hpp"

#include "rig.hpp"

#include <memory>

using namespace trproxy;
using namespace trproxy::test;
using Pool = proxy::BasicUpstreamPool<TestStream>;

namespace {

struct PoolRig {
  net::io_context ioc;
  proxy::Metrics metrics;
  std::vector<std::unique_ptr<TestStream>> peers;
  std::shared_ptr<int> runtime = std::make_shared<int>(1);  // stands for the runtime's UpstreamTls

  // A connected stream; its peer is kept so the stream stays open.
  std::unique_ptr<TestStream> stream() {
    auto ours = std::make_unique<TestStream>(ioc);
    peers.push_back(std::make_unique<TestStream>(ioc));
    ours->connect(*peers.back());
    return ours;
  }
};

}  // namespace

TEST_CASE("upstream pool: a returned connection serves the next request to its key, newest first") {
  PoolRig rig;
  Pool pool(rig.ioc, rig.metrics);
  CHECK(pool.take("login.microsoftonline.com:443", rig.runtime.get()) == nullptr);
  auto a = rig.stream();
  auto b = rig.stream();
  const auto* a_address = a.get();
  const auto* b_address = b.get();
  pool.put("login.microsoftonline.com:443", std::move(a), rig.runtime);
  pool.put("login.microsoftonline.com:443", std::move(b), rig.runtime);
  CHECK(pool.take("login.live.com:443", rig.runtime.get()) == nullptr);  // another key
  auto first = pool.take("login.microsoftonline.com:443", rig.runtime.get());
  auto second = pool.take("login.microsoftonline.com:443", rig.runtime.get());
  CHECK(first.get() == b_address);
  CHECK(second.get() == a_address);
  CHECK(pool.take("login.microsoftonline.com:443", rig.runtime.get()) == nullptr);
  CHECK(rig.metrics.upstream_pool_hits.get() == 2);
  CHECK(rig.metrics.upstream_pool_misses.get() == 3);
  CHECK(rig.metrics.upstream_pool_evictions.get() == 0);
}

TEST_CASE("upstream pool: at most max_idle_per_key idle connections; the oldest goes") {
  PoolRig rig;
  Pool pool(rig.ioc, rig.metrics, proxy::PoolLimits{2, std::chrono::seconds(30)});
  auto oldest = rig.stream();
  auto* oldest_address = oldest.get();
  pool.put("k", std::move(oldest), rig.runtime);
  pool.put("k", rig.stream(), rig.runtime);
  pool.put("k", rig.stream(), rig.runtime);
  CHECK(pool.idle_count("k") == 2);
  CHECK(rig.metrics.upstream_pool_evictions.get() == 1);
  auto x = pool.take("k", rig.runtime.get());
  auto y = pool.take("k", rig.runtime.get());
  CHECK(x.get() != oldest_address);
  CHECK(y.get() != oldest_address);
}

TEST_CASE("upstream pool: an idle connection is closed after the idle timeout") {
  PoolRig rig;
  Pool pool(rig.ioc, rig.metrics, proxy::PoolLimits{4, std::chrono::milliseconds(20)});
  pool.put("k", rig.stream(), rig.runtime);
  pool.put("k", rig.stream(), rig.runtime);
  auto kept = pool.take("k", rig.runtime.get());  // taken back before the timeout: not evicted
  REQUIRE(kept);
  // Runs until the 20 ms timeout has evicted the idle one; 5 s bounds a loaded machine's delay.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pool.idle_count("k") != 0 && std::chrono::steady_clock::now() < until)
    rig.ioc.run_for(std::chrono::milliseconds(5));
  CHECK(pool.idle_count("k") == 0);
  CHECK(rig.metrics.upstream_pool_evictions.get() == 1);
  CHECK(pool.take("k", rig.runtime.get()) == nullptr);
  // The evicted stream (the older one: the newer was taken) was closed: its peer reads the end.
  char byte = 0;
  proxy::error_code ec;
  rig.peers.front()->read_some(net::buffer(&byte, 1), ec);
  CHECK(ec == net::error::eof);
}

TEST_CASE("upstream pool: a connection verified under another runtime is evicted, not reused") {
  PoolRig rig;
  Pool pool(rig.ioc, rig.metrics);
  pool.put("k", rig.stream(), rig.runtime);
  const auto reloaded = std::make_shared<int>(2);  // a reload built a new UpstreamTls
  CHECK(pool.take("k", reloaded.get()) == nullptr);
  CHECK(rig.metrics.upstream_pool_evictions.get() == 1);
  CHECK(rig.metrics.upstream_pool_misses.get() == 1);
  CHECK(pool.idle_count("k") == 0);
}
