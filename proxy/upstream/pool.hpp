#pragma once
// Verified TLS connections to the sign-in upstreams, kept open between requests and shared by
// every client connection of one worker (nginx's upstream keepalive), so a new client connection
// costs no upstream handshake. One pool per worker: no locks.
//
// Per key (host:port; the SNI is the host) at most `max_idle_per_key` idle connections, each for
// at most `idle_timeout`. An idle connection that becomes readable (the server closed it, sent
// an alert, or anything else) is dropped at once, and it is checked again before reuse (the
// socket and the TLS layer: TlsSocketStream holds no byte that check cannot see). A
// connection made under another runtime is never reused: a reload may change upstream.trust or
// upstream.resolve. Connections that carried NTLM/Negotiate authentication (challenged by the
// server or sent by the client) never come here: the session keeps them pinned to its client.

#include "proxy/observe/metrics.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/transport/stream_ops.hpp"
#include "proxy/transport/tls_socket_stream.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace trproxy::proxy {

struct PoolLimits {
  std::size_t max_idle_per_key = 64;  // above the busiest concurrency to one host, or the pool churns
  std::chrono::milliseconds idle_timeout{30'000};
};

template <class Stream>
class BasicUpstreamPool {
 public:
  // What a connection was verified under (the runtime's UpstreamTls). Held, so its address
  // cannot be reused by another while a pooled connection refers to it.
  using Origin = std::shared_ptr<const void>;

  BasicUpstreamPool(net::io_context& io, Metrics& metrics, PoolLimits limits = {})
      : io_(io), metrics_(metrics), limits_(limits) {}
  BasicUpstreamPool(const BasicUpstreamPool&) = delete;
  BasicUpstreamPool& operator=(const BasicUpstreamPool&) = delete;
  ~BasicUpstreamPool() { clear(); }

  // An idle connection to `key` verified under `origin`, most recently used first; nullptr when
  // there is none. Counts a hit or a miss; stale connections met on the way are evicted.
  std::unique_ptr<Stream> take(const std::string& key, const void* origin) {
    const auto found = idle_.find(key);
    while (found != idle_.end() && !found->second.empty()) {
      auto entry = std::move(found->second.back());
      found->second.pop_back();
      entry->pooled = false;
      entry->expiry.cancel();
      auto stream = std::move(entry->stream);
      stop_watching(*stream);
      if (entry->origin.get() == origin && !has_unread_input(*stream)) {
        metrics_.upstream_pool_hits.add();
        return stream;
      }
      metrics_.upstream_pool_evictions.add();
      close_lowest(*stream);
    }
    metrics_.upstream_pool_misses.add();
    return nullptr;
  }

  // Keeps `stream` (idle: its last response read whole) for the next request to `key`, unless
  // anything is left to read on it: that is closed at once, since the idle watch only sees the
  // socket. The oldest idle connection of the key goes when the key is full.
  void put(const std::string& key, std::unique_ptr<Stream> stream, Origin origin) {
    if (has_unread_input(*stream)) {
      metrics_.upstream_pool_evictions.add();
      close_lowest(*stream);
      return;
    }
    auto& list = idle_[key];
    if (list.size() >= limits_.max_idle_per_key) {
      evict(list.front());
    }
    auto entry = std::make_shared<Idle>(io_, key, std::move(stream), std::move(origin));
    list.push_back(entry);
    watch(entry);
  }

  // Closes every idle connection (drain, shutdown).
  void clear() {
    for (auto& [key, list] : idle_) {
      for (auto& entry : list) {
        entry->pooled = false;
        entry->expiry.cancel();
        close_lowest(*entry->stream);
      }
    }
    idle_.clear();
  }

  [[nodiscard]] std::size_t idle_count(const std::string& key) const {
    const auto found = idle_.find(key);
    return found == idle_.end() ? 0 : found->second.size();
  }

 private:
  struct Idle {
    Idle(net::io_context& io, std::string k, std::unique_ptr<Stream> s, Origin o)
        : key(std::move(k)), stream(std::move(s)), origin(std::move(o)), expiry(io) {}
    std::string key;
    std::unique_ptr<Stream> stream;
    Origin origin;
    net::steady_timer expiry;
    bool pooled = true;
  };

  // The expiry timer, and a wait for the socket to become readable, both end in eviction.
  void watch(const std::shared_ptr<Idle>& entry) {
    const std::weak_ptr<Idle> weak = entry;
    auto drop = [this, weak](const error_code& ec) {
      if (ec == net::error::operation_aborted) return;
      if (const auto alive = weak.lock(); alive && alive->pooled) evict(alive);
    };
    entry->expiry.expires_after(limits_.idle_timeout);
    entry->expiry.async_wait(drop);
    auto& lowest = beast::get_lowest_layer(*entry->stream);
    if constexpr (HasSocket<decltype(lowest)>) {
      lowest.socket().async_wait(tcp::socket::wait_read, drop);
    }
  }

  void stop_watching(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    if constexpr (HasSocket<decltype(lowest)>) {
      error_code ignored;
      lowest.socket().cancel(ignored);
    }
  }

  void evict(std::shared_ptr<Idle> entry) {
    entry->pooled = false;
    entry->expiry.cancel();
    stop_watching(*entry->stream);
    close_lowest(*entry->stream);
    metrics_.upstream_pool_evictions.add();
    if (const auto found = idle_.find(entry->key); found != idle_.end()) std::erase(found->second, entry);
  }

  net::io_context& io_;
  Metrics& metrics_;
  PoolLimits limits_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Idle>>> idle_;
};

using UpstreamPool = BasicUpstreamPool<TlsSocketStream>;

}  // namespace trproxy::proxy
