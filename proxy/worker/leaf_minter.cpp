#include "proxy/worker/leaf_minter.hpp"

namespace trproxy::proxy {

net::awaitable<tls::LeafPtr> LeafMinter::leaf_for(std::shared_ptr<tls::LeafCache> cache, std::string host) {
  if (auto leaf = cache->find(host)) co_return leaf;
  // A named initiation that owns nothing (GCC 12 destroys a temporary with a non-trivial
  // destructor inside a co_await twice: a lambda owning `host` freed it twice on every miss).
  // It runs once, while this frame and so `cache` and `host` are alive.
  auto initiation = [this, &cache, &host](auto handler) {
    // The awaitable's handler is move-only; std::function needs a copyable wrapper.
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    enqueue(std::move(cache), std::move(host), [shared](std::exception_ptr error, tls::LeafPtr leaf) {
      const auto executor = net::get_associated_executor(*shared);
      net::post(executor, [shared, error, leaf = std::move(leaf)]() mutable { std::move (*shared)(error, leaf); });
    });
  };
  co_return co_await net::async_initiate<decltype(net::use_awaitable), void(std::exception_ptr, tls::LeafPtr)>(
      initiation, net::use_awaitable);
}

void LeafMinter::enqueue(std::shared_ptr<tls::LeafCache> cache, std::string host, Waiter waiter) {
  Key key{cache.get(), host};
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // shutting down: the waiter is dropped with its coroutine
    auto [it, inserted] = pending_.try_emplace(key);
    it->second.push_back(std::move(waiter));
    if (!inserted) return;  // a mint for this host is under way
  }
  net::post(pool_, [this, cache = std::move(cache), key = std::move(key)] {
    std::exception_ptr error;
    tls::LeafPtr leaf;
    try {
      leaf = cache->get(key.second);
    } catch (...) {
      error = std::current_exception();
    }
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mutex_);
      if (auto it = pending_.find(key); it != pending_.end()) {
        waiters = std::move(it->second);
        pending_.erase(it);
      }
    }
    for (auto& waiter : waiters) waiter(error, leaf);
  });
}

void LeafMinter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  pool_.join();
  std::lock_guard lock(mutex_);
  pending_.clear();
}

}  // namespace trproxy::proxy
