#!/usr/bin/env bash
# Builds everything and runs every test: unit tests, end-to-end tests against nginx, then the
# sanitizer builds (ASan+UBSan: unit + e2e tests; TSan: e2e tests), a two-minute soak under ASan
# and the bounded fuzz runs (skip those three with QUICK=1). At the end, pass or fail, it prints
# how long each stage took. A cold run on 2 cores (Debian packages already installed) took 19.7 minutes.
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
# The two sanitizer trees (ASan's holds the fuzz targets too) compile beside the ctest stage, at
# low priority: that stage is mostly waiting (image builds fetching packages, end-to-end tests on
# timers), and on a cold machine the builds are most of the run. They build one after the other,
# each saying so on a pipe, and each tested stage starts as soon as its build is done, while the
# next one compiles beside it. Their output goes to build/background-builds.log.
if [ "${QUICK:-0}" != 1 ]; then
  # setsid: a process group of its own, ended with the script if a stage fails.
  # shellcheck disable=SC2016 # $1 and $kind are the inner shell's
  exec {built}< <(setsid nice -n 10 bash -c '
    for kind in asan tsan; do SANITIZERS=$kind SANITIZE_BUILD_ONLY=1 "$1/scripts/sanitize.sh" >&2 && echo $kind || exit 1; done
    ' builds "$root" 2>"$root/build/background-builds.log")
  background=$!
fi
begin "tests (ctest -j2; the sanitizer builds beside)"
ctest --output-on-failure -j2
end
if [ "${QUICK:-0}" = 1 ]; then exit 0; fi
# Waits until the background names this build as done (it says each in order); a failed build
# ends the pipe instead.
wait_for_build() {
  local done_kind=""
  begin "$1 build (left after the stages before it)"
  read -r done_kind <&"$built" || true
  if [ "$done_kind" != "$1" ]; then
    tail -n 40 "$root/build/background-builds.log" >&2
    echo "test: the $1 build failed" >&2
    exit 1
  fi
  end
}
# The sanitizer stages all run, and the run fails at the end if any did: a TSan report is worth
# seeing next to an ASan one.
failed=""
run_stage() {
  local name=$1
  shift
  begin "$name"
  if "$@"; then end; else end; stages[-1]+="  (failed)"; failed="$failed, $name"; fi
}
wait_for_build asan
run_stage "ASan+UBSan: unit, engine and end-to-end tests" env SANITIZERS=asan "$root/scripts/sanitize.sh"
# Soak and chaos under ASan (bench/soak.py): mixed load, reloads and faults, the invariants.
# RSS is not bounded here: the sanitizer's allocator keeps freed memory in quarantine.
run_stage "soak (2 min, ASan)" python3 "$root/bench/soak.py" --minutes 2 --binary "$root/build-asan/trproxy" --rss-slope 1e9
run_stage "fuzz (ASan)" "$root/scripts/fuzz.sh"
wait_for_build tsan
background=""
run_stage "TSan: end-to-end tests" env SANITIZERS=tsan "$root/scripts/sanitize.sh"
if [ -n "$failed" ]; then
  echo "test: failed: ${failed#, }" >&2
  exit 1
fi
