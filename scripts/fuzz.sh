#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time
# (FUZZ_SECONDS, default 60 in all, split between the targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRPROXY_FUZZ=ON >/dev/null
cmake --build "$build" -j "${TRPROXY_JOBS:-2}"
seconds=${FUZZ_SECONDS:-60}
per_target=$(( seconds / 2 ))
for target in rewrite client_hello; do
  corpus="$build/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzz: ${target}_fuzz for ${per_target}s"
  log="$build/fuzz-$target.log"
  set +e
  "$build/tests/fuzz/${target}_fuzz" -max_total_time="$per_target" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$build/" "$corpus" "$root/tests/fuzz/corpus/$target" >"$log" 2>&1
  status=$?
  set -e
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz: ${target}_fuzz found a problem (artifacts in $build)" >&2
    exit 1
  fi
done
echo "fuzz: no findings"
