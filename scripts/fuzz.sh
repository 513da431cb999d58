#!/usr/bin/env bash
# Builds the libFuzzer targets in the ASan tree (clang, ASan+UBSan: scripts/sanitize.sh) and runs
# every one of them for a bounded time: FUZZ_SECONDS in all (default 75), split evenly between the
# targets.
#   rewrite        the zero-copy rewrite re-scans and keeps every byte but the stripped lines
#   client_hello   the ClientHello peek: any bytes, and hellos up to 64 KiB re-framed into records
#                  (same answer for any record split and any incremental feed)
#   response_head  the ResponseScanner alone: in bounds, stable under extra bytes and splits
#   body_tracker   the BodyTracker alone: any split gives the whole-feed result
#   differential   trproxy's request framing against http-parser's
#   proxy_protocol the PROXY v1/v2 header parser: in bounds, stable under extra bytes, no early complete
#   response_watch the sign-in response watch: any body split (text, gzip, deflate, br) finds the
#                  whole-feed block code, within its limits, and every decoder gives memory back
#   engine         two-sided: simulated clients and upstream servers through the engine's request
#                  path and one shared upstream pool; invariants on every input (tenant lines exact,
#                  no cross-client bytes, pooled only at a message boundary, no stall)
# Before fuzzing, every input in tests/regressions/engine/ replays through engine_fuzz (each is a
# fixed defect's bytes: it must pass), and the one for issue 19.1 through engine_fuzz_mutant, the
# target with that defect put back (it must fail: the invariants still catch it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-asan"  # the ASan tree holds the targets (scripts/sanitize.sh)
targets=(rewrite client_hello response_head body_tracker differential proxy_protocol response_watch engine)
SANITIZERS=asan SANITIZE_BUILD_ONLY=1 SANITIZE_TARGETS=fuzz_targets "$root/scripts/sanitize.sh"
regressions="$root/tests/regressions/engine"
"$build/tests/fuzz/engine_fuzz" "$regressions"/* >"$build/engine-regressions.log" 2>&1 ||
  { tail -n 40 "$build/engine-regressions.log" >&2; echo "fuzz: a recorded engine input fails" >&2; exit 1; }
if "$build/tests/fuzz/engine_fuzz_mutant" "$regressions/19.1-response-bytes-behind-a-pooled-response" \
  >"$build/engine-mutant.log" 2>&1; then
  echo "fuzz: engine_fuzz no longer catches issue 19.1's defect (engine_fuzz_mutant passed)" >&2
  exit 1
fi
echo "fuzz: $(ls "$regressions" | wc -l) recorded engine inputs pass; the 19.1 mutant is caught"
seconds=${FUZZ_SECONDS:-75}
per_target=$(( seconds / ${#targets[@]} ))
[ "$per_target" -ge 1 ] || per_target=1
for target in "${targets[@]}"; do
  corpus="$build/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzz: ${target}_fuzz for ${per_target}s"
  log="$build/fuzz-$target.log"
  max_len=8192
  extra=()
  if [ "$target" = client_hello ]; then max_len=65552; fi  # 4 control bytes + a hello past 64 KiB
  # The engine's inputs are read as a script: short ones say little, so no growing from small.
  if [ "$target" = engine ]; then max_len=4096 extra=(-len_control=0); fi
  set +e
  "$build/tests/fuzz/${target}_fuzz" -max_total_time="$per_target" -max_len="$max_len" "${extra[@]}" -print_final_stats=1 \
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
