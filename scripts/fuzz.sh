#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs every one of them for a bounded
# time: FUZZ_SECONDS in all (default 75), split evenly between the targets.
#   rewrite        the zero-copy rewrite re-scans and keeps every byte but the stripped lines
#   client_hello   the ClientHello peek: any bytes, and hellos up to 64 KiB re-framed into records
#                  (same answer for any record split and any incremental feed)
#   response_head  the ResponseScanner alone: in bounds, stable under extra bytes and splits
#   body_tracker   the BodyTracker alone: any split gives the whole-feed result
#   differential   trproxy's request framing against http-parser's
#   proxy_protocol the PROXY v1/v2 header parser: in bounds, stable under extra bytes, no early complete
#   response_watch the sign-in response watch: any body split (text, gzip, deflate, br) finds the
#                  whole-feed block code, within its limits, and every decoder gives memory back
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
build="$root/build-fuzz"
targets=(rewrite client_hello response_head body_tracker differential proxy_protocol response_watch)
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRPROXY_FUZZ=ON >/dev/null
cmake --build "$build" -j "${TRPROXY_JOBS:-2}" --target "${targets[@]/%/_fuzz}"
seconds=${FUZZ_SECONDS:-75}
per_target=$(( seconds / ${#targets[@]} ))
[ "$per_target" -ge 1 ] || per_target=1
for target in "${targets[@]}"; do
  corpus="$build/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzz: ${target}_fuzz for ${per_target}s"
  log="$build/fuzz-$target.log"
  max_len=8192
  if [ "$target" = client_hello ]; then max_len=65552; fi  # 4 control bytes + a hello past 64 KiB
  set +e
  "$build/tests/fuzz/${target}_fuzz" -max_total_time="$per_target" -max_len="$max_len" -print_final_stats=1 \
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
