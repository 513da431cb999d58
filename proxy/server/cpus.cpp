#include "proxy/server/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>

namespace trproxy::proxy {
namespace {

// "max 100000" (no quota) or "<quota> <period>" in microseconds.
unsigned cgroup_quota_cpus() {
  std::ifstream in("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    const auto value = std::stoll(quota);
    return static_cast<unsigned>(std::max(1.0, std::ceil(static_cast<double>(value) / static_cast<double>(period))));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

unsigned usable_cpus() {
  unsigned cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = static_cast<unsigned>(CPU_COUNT(&set));
  if (cpus == 0) cpus = std::thread::hardware_concurrency();
  if (const auto quota = cgroup_quota_cpus(); quota > 0) cpus = std::min(cpus, quota);
  return std::max(1u, cpus);
}

}  // namespace trproxy::proxy
