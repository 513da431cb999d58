#!/usr/bin/env bash
# Sanitizer runs of the engine itself, not only of the pure layers:
#   asan  build-asan/, AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer): the unit and engine
#         tests, then the end-to-end suite against that build's trproxy. The same tree holds the
#         libFuzzer targets (scripts/fuzz.sh runs them): one compile of the tree serves both.
#   tsan  build-tsan/, ThreadSanitizer: the end-to-end suite against that build's trproxy
# Both trees are clang at -O0: clang compiles this code's coroutine templates in about two thirds
# of GCC's time at -O0, and in half its own time at -O1 (the release build is GCC's). The ASan
# tree compiles the pure layers and the fuzz targets that drive them at -O2 (CMakeLists.txt).
# ctest in a build dir hands the suites that dir's trproxy (TRPROXY_BIN). A sanitizer report
# fails the run: the unit tests exit non-zero, and the e2e harness fails any test whose trproxy
# printed a report on stderr. The TSan run leaves out the Chromium suites (label browser, and
# TRPROXY_E2E_SKIP_BROWSER for a browser test in another suite): the browser's own timeouts are
# not made for an engine slowed down 5-15x.
#   SANITIZERS="asan tsan"   which builds to run (default both)
#   SANITIZE_BUILD_ONLY=1    build them and stop (scripts/test.sh builds them beside its ctest stage)
#   SANITIZE_TARGETS=...     with one kind in SANITIZERS: build these targets instead of its own
#                            (scripts/fuzz.sh: SANITIZERS=asan SANITIZE_TARGETS=fuzz_targets)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
jobs=${TRPROXY_JOBS:-2}

# halt_on_error: stop at the first report, so it cannot scroll by unnoticed; exitcode: a report
# always means a non-zero exit, even from a process that would otherwise exit 0.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:exitcode=23:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=23}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}

failed=""
for kind in ${SANITIZERS:-asan tsan}; do
  case "$kind" in
    asan) build="$root/build-asan" options="-DTRPROXY_SANITIZE=ON -DTRPROXY_FUZZ=ON"
          targets="trproxy unit_tests engine_tests fuzz_targets" scale=2 skip=none ;;
    tsan) build="$root/build-tsan" options=-DTRPROXY_TSAN=ON targets="trproxy" scale=3 skip=browser ;;
    *) echo "sanitize: unknown sanitizer '$kind' (asan or tsan)" >&2; exit 2 ;;
  esac
  targets=${SANITIZE_TARGETS:-$targets}
  started=$(date +%s)
  # A tree an earlier version configured with GCC starts again: CMake keeps a tree's compiler.
  if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$build/CMakeCache.txt"; then
    rm -rf "$build"
  fi
  # shellcheck disable=SC2086 # options and targets are lists
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug $options -DTRPROXY_BENCH=OFF >/dev/null
  # shellcheck disable=SC2086
  cmake --build "$build" -j "$jobs" --target $targets
  built=$(date +%s)
  if [ "${SANITIZE_BUILD_ONLY:-0}" = 1 ]; then
    echo "sanitize: $kind build $((built - started))s"
    continue
  fi
  # Both builds run even when the first fails: a TSan report is worth seeing next to an ASan one.
  status=0
  if [ "$kind" = asan ]; then
    "$build/tests/unit_tests" || status=1
    "$build/tests/engine_tests" || status=1
  fi
  # Timing assertions keep their lower bounds; their upper bounds stretch by this factor.
  skip_browser=0
  if [ "$skip" = browser ]; then skip_browser=1; fi  # the label's suites, and browser tests in others
  (cd "$build" && TRPROXY_E2E_TIME_SCALE=$scale TRPROXY_E2E_SKIP_BROWSER=$skip_browser ctest --output-on-failure -j "$jobs" -L e2e -LE "$skip") || status=1
  echo "sanitize: $kind build $((built - started))s, tests $(($(date +%s) - built))s"
  [ "$status" = 0 ] || failed="$failed $kind"
done
if [ -n "$failed" ]; then
  echo "sanitize: failed:$failed" >&2
  exit 1
fi
