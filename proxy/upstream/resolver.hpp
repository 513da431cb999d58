#pragma once
// Name lookups on the worker's own io_context with c-ares: every lookup is a pair of UDP queries
// (A and AAAA, sent together) whose sockets the worker's reactor watches, so any number of
// lookups run at once and none waits for another (Asio's resolver runs getaddrinfo one at a time
// on a background thread). One channel and one cache per worker: no locks, no shared state.
// Concurrent lookups of one name share one query.

#include "proxy/observe/metrics.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/upstream/dns_cache.hpp"

#include <ares.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trproxy::proxy {

class DnsResolver {
 public:
  // Reads the system's resolver configuration (/etc/resolv.conf, /etc/hosts) now.
  // Throws std::runtime_error when c-ares cannot start a channel.
  explicit DnsResolver(net::io_context& io, DnsTtlBounds bounds = {});
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The addresses of `name` (lower case, not an IP literal), from the cache or DNS. Waits at
  // most until `deadline` (then DnsError::timeout); the query itself may go on and still fill
  // the cache.
  net::awaitable<DnsAnswer> resolve(std::string_view name, Clock::time_point deadline);

  struct Stats {
    std::uint64_t cache_hits = 0;
    std::uint64_t queries = 0;  // lookups sent to DNS (each an A and an AAAA query)
  };
  [[nodiscard]] const Stats& stats() const { return stats_; }
  // Also counts cache hits and queries into `metrics` (the worker's shard), for /metrics.
  void count_into(Metrics& metrics) { metrics_ = &metrics; }

 private:
  struct Waiter;
  struct Lookup;
  struct Watch;

  static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable);
  static void on_answer(void* lookup, int status, int timeouts, ares_addrinfo* result);
  void watch(const std::shared_ptr<Watch>& watch, bool write);
  void after_processing();
  void arm_timer();
  void finish(Lookup& lookup, int status, ares_addrinfo* result);

  net::io_context& io_;
  DnsCache cache_;
  ares_channel channel_ = nullptr;
  net::steady_timer timer_;  // c-ares' next retry/timeout
  std::unordered_map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  std::unordered_map<std::string, std::unique_ptr<Lookup>> lookups_;  // in flight, by name
  Stats stats_;
  Metrics* metrics_ = nullptr;
};

}  // namespace trproxy::proxy
