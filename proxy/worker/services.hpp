#pragma once
// The state a connection may touch: process-wide objects, and the worker's own metrics shard
// (each worker holds its own Services). Everything here is created before the workers'
// io_contexts and destroyed after them, so no coroutine frame outlives what it references.

#include "policy/egress.hpp"
#include "proxy/observe/access_log.hpp"
#include "proxy/observe/metrics.hpp"
#include "proxy/observe/sign_in_stats.hpp"
#include "proxy/worker/client_shares.hpp"
#include "proxy/worker/leaf_minter.hpp"

#include <atomic>
#include <cstdint>

namespace trproxy::proxy {

struct Services {
  Metrics& metrics;                               // this worker's shard (proxy/observe/metrics.hpp)
  std::atomic<std::int64_t>& active_connections;  // process-wide, for limits.max_connections
  ClientShares& client_shares;                    // process-wide, for limits.max_connections_per_client
  AccessLog& access_log;
  LeafMinter& minter;
  const policy::SelfEndpoints& self;  // the proxy's own listeners (egress "self" rule)
  std::uint16_t proxy_port = 0;       // the first proxy listener's port, for PAC files
  SignInMetrics& sign_in;             // sign-in requests, outcomes and the decoder budget
};

}  // namespace trproxy::proxy
