#pragma once
// How many io threads `threads: 0` means: the CPUs this process may actually use.

namespace trproxy::proxy {

// The CPUs in this process's affinity mask, lowered to a cgroup v2 CPU quota (cpu.max) when
// one is set (containers), and at least 1.
unsigned usable_cpus();

}  // namespace trproxy::proxy
