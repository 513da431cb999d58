#!/usr/bin/env bash
# Builds everything and runs every test: unit tests, end-to-end tests against nginx, then the
# sanitizer builds (ASan+UBSan: unit + e2e tests; TSan: e2e tests), a two-minute soak under ASan
# and the bounded fuzz runs (skip those three with QUICK=1). At the end, pass or fail, it prints how long each stage took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

stages=()
stage_started=0
stage_name=""
begin() {
  stage_name=$1
  stage_started=$(date +%s)
}
end() {
  stages+=("$(printf '%-54s %5ss' "$stage_name" "$(($(date +%s) - stage_started))")")
  stage_name=""
}
background=""
report() {
  local status=$?
  [ -n "$background" ] && kill -- -"$background" 2>/dev/null
  [ -n "$stage_name" ] && end && stages[-1]+="  (failed)"
  echo "test: stage durations"
  for line in "${stages[@]}"; do echo "  $line"; done
  exit "$status"
}
trap report EXIT

# Every package of packages.txt (the test tools too), and the tests and benchmarks on even if
# scripts/run.sh configured build/ without them.
begin "packages and build (build/)"
"$root/scripts/build.sh" -DTRPROXY_TESTS=ON -DTRPROXY_BENCH=ON
end
cd "$root/build"
# The sanitizer and fuzz builds compile beside the ctest stage, at low priority: that stage is
# mostly waiting (image builds fetching packages, end-to-end tests on timers), and on a cold
# machine the three builds are most of the run. Their output goes to build/background-builds.log.
if [ "${QUICK:-0}" != 1 ]; then
  # setsid: a process group of its own, ended with the script if a stage fails.
  setsid nice -n 10 bash -c 'SANITIZE_BUILD_ONLY=1 "$1/scripts/sanitize.sh" && FUZZ_BUILD_ONLY=1 "$1/scripts/fuzz.sh"' \
    builds "$root" >"$root/build/background-builds.log" 2>&1 &
  background=$!
fi
begin "tests (ctest -j2; sanitizer and fuzz builds beside)"
ctest --output-on-failure -j2
end
if [ "${QUICK:-0}" = 1 ]; then exit 0; fi
begin "sanitizer and fuzz builds (left after ctest)"
wait "$background" || { tail -n 40 "$root/build/background-builds.log" >&2; echo "test: a sanitizer or fuzz build failed" >&2; exit 1; }
background=""
end
begin "sanitizers (ASan+UBSan, TSan)"
"$root/scripts/sanitize.sh"
end
# Soak and chaos under ASan (bench/soak.py): mixed load, reloads and faults, the invariants.
# RSS is not bounded here: the sanitizer's allocator keeps freed memory in quarantine.
begin "soak (2 min, ASan)"
python3 "$root/bench/soak.py" --minutes 2 --binary "$root/build-asan/trproxy" --rss-slope 1e9
end
begin "fuzz"
"$root/scripts/fuzz.sh"
end
