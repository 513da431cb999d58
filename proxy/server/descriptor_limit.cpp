#include "proxy/server/descriptor_limit.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace trproxy::proxy {

DescriptorLimitPlan plan_descriptor_limit(std::uint64_t soft, std::uint64_t hard, std::uint64_t max_connections) {
  DescriptorLimitPlan plan;
  plan.soft = std::max(soft, hard);
  const auto room = std::numeric_limits<std::uint64_t>::max() / descriptors_per_connection;
  const auto needed = max_connections > room ? std::numeric_limits<std::uint64_t>::max()
                                             : max_connections * descriptors_per_connection + descriptors_reserved;
  if (plan.soft < needed) {
    plan.warning = "the open-descriptor limit (" + std::to_string(plan.soft) + ") is below what " +
                   std::to_string(max_connections) + " connections (limits.max_connections) may need (" +
                   std::to_string(needed) +
                   "): past it, accepts pause and connections wait; raise LimitNOFILE or lower max_connections";
  }
  return plan;
}

void raise_descriptor_limit(std::uint64_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const auto as_u64 = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(v);
  };
  const auto plan = plan_descriptor_limit(as_u64(limit.rlim_cur), as_u64(limit.rlim_max), max_connections);
  if (plan.soft != as_u64(limit.rlim_cur)) {
    const rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::info("open-descriptor limit raised from {} to {} (the hard limit)", limit.rlim_cur, limit.rlim_max);
    } else {
      spdlog::warn("open-descriptor limit: could not raise {} to {}: {}", limit.rlim_cur, limit.rlim_max,
                   std::strerror(errno));
    }
  }
  if (!plan.warning.empty()) spdlog::warn("{}", plan.warning);
}

}  // namespace trproxy::proxy
