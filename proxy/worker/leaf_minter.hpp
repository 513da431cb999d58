#pragma once
// Leaf certificates for the engine without blocking an io thread: a cache hit is returned at
// once; a miss is minted on the minter's own thread (an ECDSA key sign, ~0.3 ms, and more for
// RSA) while the connection's coroutine waits asynchronously. Concurrent misses for one host,
// from any worker, wait on one mint.

#include "proxy/transport/io.hpp"
#include "tls/leaf.hpp"

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace trproxy::proxy {

class LeafMinter {
 public:
  LeafMinter() = default;
  ~LeafMinter() { stop(); }
  LeafMinter(const LeafMinter&) = delete;
  LeafMinter& operator=(const LeafMinter&) = delete;

  // Throws tls::TlsError when minting fails.
  net::awaitable<tls::LeafPtr> leaf_for(std::shared_ptr<tls::LeafCache> cache, std::string host);

  // Finishes the mint under way and drops every waiter (their coroutines are destroyed with
  // them). Call after the workers have stopped and before they are destroyed.
  void stop();

  // The minter's own thread. Work posted here runs between mints, in order: the engine test holds
  // it closed to prove that waiting coroutines leave their io threads free.
  net::thread_pool::executor_type executor() { return pool_.get_executor(); }

 private:
  using Waiter = std::function<void(std::exception_ptr, tls::LeafPtr)>;
  using Key = std::pair<const tls::LeafCache*, std::string>;

  void enqueue(std::shared_ptr<tls::LeafCache> cache, std::string host, Waiter waiter);

  net::thread_pool pool_{1};
  std::mutex mutex_;
  std::map<Key, std::vector<Waiter>> pending_;
  bool stopped_ = false;
};

}  // namespace trproxy::proxy
