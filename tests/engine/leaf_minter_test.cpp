// proxy::LeafMinter: concurrent misses from coroutines on two io_contexts (two threads) wait on
// one mint without blocking their threads; a hit needs no mint at all.

#include "proxy/worker/leaf_minter.hpp"
#include "rig.hpp"
#include "tls/ca.hpp"

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <future>
#include <thread>
#include <utility>
#include <vector>

using namespace trproxy;
using namespace trproxy::test;

namespace {

std::shared_ptr<const tls::CertificateAuthority> make_ca(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("trproxy-engine-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  tls::CertificateAuthority::create(dir, tls::CaOptions{});
  auto ca = std::make_shared<const tls::CertificateAuthority>(
      tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key"));
  std::filesystem::remove_all(dir);
  return ca;
}

// One io_context with a 1 ms ticker: ticks only advance while its thread is free. The ticker
// keeps its promise at its third tick.
struct Worker {
  static constexpr std::uint64_t ticks_promised = 3;
  net::io_context ioc;
  std::atomic<std::uint64_t> ticks{0};
  std::atomic<bool> stop{false};
  std::promise<void> ticked;

  net::awaitable<void> tick() {
    net::steady_timer timer(co_await net::this_coro::executor);
    while (!stop) {
      timer.expires_after(1ms);
      co_await timer.async_wait(use_tuple);
      if (++ticks == ticks_promised) ticked.set_value();
    }
  }
};

struct Ask {
  tls::LeafPtr leaf;
  std::uint64_t ticks_before = 0;
  std::uint64_t ticks_after = 0;
  bool done = false;
};

net::awaitable<void> ask(proxy::LeafMinter& minter, std::shared_ptr<tls::LeafCache> cache, std::string host,
                         Worker& worker, Ask& out, std::atomic<int>& remaining) {
  out.ticks_before = worker.ticks;
  auto call = minter.leaf_for(cache, host);
  out.leaf = co_await std::move(call);
  out.ticks_after = worker.ticks;
  out.done = true;
  --remaining;
}

}  // namespace

TEST_CASE("LeafMinter: concurrent misses on two io threads share one mint and never block the threads") {
  const auto ca = make_ca("minter");
  auto cache = std::make_shared<tls::LeafCache>(ca, config::LeafKeyType::ec_p256);
  constexpr int per_worker = 8;
  const std::string host = "login.microsoftonline.com";

  Worker a, b;
  proxy::LeafMinter minter;  // destroyed (joined) before the io_contexts it answers on
  // The minter's thread is held before any ask, so every ask waits until the test opens it: the
  // test, not the machine's speed, decides that the asks wait while the tickers run.
  std::promise<void> open_gate;
  auto gate = open_gate.get_future().share();
  net::post(minter.executor(), [gate] { gate.wait_for(20s); });
  struct OpenOnExit {
    std::promise<void>& promise;
    bool opened = false;
    void open() {
      if (!std::exchange(opened, true)) promise.set_value();
    }
    ~OpenOnExit() { open(); }
  } opener{open_gate};

  std::atomic<int> remaining{2 * per_worker};
  std::vector<Ask> asks(2 * per_worker);
  for (int i = 0; i < 2 * per_worker; ++i) {
    Worker& worker = i < per_worker ? a : b;
    spawn(worker.ioc, ask(minter, cache, host, worker, asks[static_cast<std::size_t>(i)], remaining));
  }
  spawn(a.ioc, a.tick());
  spawn(b.ioc, b.tick());
  auto a_ticked = a.ticked.get_future();
  auto b_ticked = b.ticked.get_future();
  auto run = [&remaining](Worker& worker, Worker& other) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (remaining > 0 && std::chrono::steady_clock::now() < until) worker.ioc.run_for(5ms);
    worker.stop = true;
    other.stop = true;
    worker.ioc.run_for(1s);  // the ticker ends at its next tick
  };
  std::thread ta([&] { run(a, b); });
  std::thread tb([&] { run(b, a); });
  // Both threads tick while all sixteen asks wait on the held minter.
  CHECK(a_ticked.wait_for(10s) == std::future_status::ready);
  CHECK(b_ticked.wait_for(10s) == std::future_status::ready);
  CHECK(remaining == 2 * per_worker);
  opener.open();
  ta.join();
  tb.join();

  REQUIRE(remaining == 0);
  for (const auto& ask : asks) {
    REQUIRE(ask.done);
    CHECK(ask.leaf != nullptr);
    CHECK(ask.leaf == asks[0].leaf);
    // The thread kept running other work (its timer) while this coroutine waited for the mint.
    CHECK(ask.ticks_after > ask.ticks_before);
  }
  CHECK(cache->stats().minted == 1);
  CHECK(cache->find(host) == asks[0].leaf);

  {
    // A cache hit returns the same leaf without a mint.
    net::io_context ioc;
    const auto hits = cache->stats().hits;
    tls::LeafPtr again;
    auto hit = [](proxy::LeafMinter& minter, std::shared_ptr<tls::LeafCache> cache, std::string host,
                  tls::LeafPtr& out) -> net::awaitable<void> {
      auto call = minter.leaf_for(cache, host);
      out = co_await std::move(call);
    };
    spawn(ioc, hit(minter, cache, host, again));
    ioc.run_for(5s);
    CHECK(again == asks[0].leaf);
    CHECK(cache->stats().minted == 1);
    CHECK(cache->stats().hits == hits + 1);
  }
}
