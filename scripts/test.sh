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
  stages+=("$(printf '%-38s %5ss' "$stage_name" "$(($(date +%s) - stage_started))")")
  stage_name=""
}
report() {
  local status=$?
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
begin "tests (ctest -j2)"
ctest --output-on-failure -j2
end
if [ "${QUICK:-0}" = 1 ]; then exit 0; fi
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
