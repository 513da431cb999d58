#pragma once
// Open-descriptor limit at start. The soft RLIMIT_NOFILE is often 1,024 (a login shell, a
// container runtime's default) while the hard limit allows far more, and limits.max_connections
// defaults to 10,000: the proxy raises its soft limit to the hard one (as Go's runtime and
// HAProxy do; it uses epoll, never select, so a large limit costs nothing) and warns when even
// the hard limit is short of what max_connections may need. Running out is survived either
// way (accept_pause.hpp), but connections then wait in the backlog.

#include <cstdint>
#include <string>

namespace trproxy::proxy {

// Descriptors one connection may hold at once: the client's, the upstream's, and a splice
// tunnel's two pipes (two ends each).
inline constexpr std::uint64_t descriptors_per_connection = 6;
// Listeners, the admin endpoint, watched files, the log files, DNS sockets, epoll and eventfds.
inline constexpr std::uint64_t descriptors_reserved = 64;

struct DescriptorLimitPlan {
  std::uint64_t soft = 0;  // the soft limit to set (the current one when nothing changes)
  std::string warning;     // empty when the limit covers max_connections
};

// Pure: what to set given the current soft and hard limits (RLIM_INFINITY as UINT64_MAX).
DescriptorLimitPlan plan_descriptor_limit(std::uint64_t soft, std::uint64_t hard, std::uint64_t max_connections);

// Applies the plan to this process and logs what it did and any warning.
void raise_descriptor_limit(std::uint64_t max_connections);

}  // namespace trproxy::proxy
