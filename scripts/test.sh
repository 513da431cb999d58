#!/usr/bin/env bash
# Builds everything and runs every test: unit tests, end-to-end tests against nginx, then the
# sanitizer builds (ASan+UBSan: unit + e2e tests; TSan: e2e tests) and the bounded fuzz runs
# (skip those two with QUICK=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Every package of packages.txt (the test tools too), and the tests and benchmarks on even if
# scripts/run.sh configured build/ without them.
"$root/scripts/build.sh" -DTRPROXY_TESTS=ON -DTRPROXY_BENCH=ON
cd "$root/build"
ctest --output-on-failure -j2
if [ "${QUICK:-0}" = 1 ]; then exit 0; fi
"$root/scripts/sanitize.sh"
"$root/scripts/fuzz.sh"
