#!/usr/bin/env bash
# Builds everything and runs every test: unit tests, end-to-end tests against nginx, then the
# sanitizer builds (ASan+UBSan: unit + e2e tests; TSan: e2e tests) and the bounded fuzz runs
# (skip those two with QUICK=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j2
if [ "${QUICK:-0}" = 1 ]; then exit 0; fi
"$root/scripts/sanitize.sh"
"$root/scripts/fuzz.sh"
