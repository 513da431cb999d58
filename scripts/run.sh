#!/usr/bin/env bash
# Builds trproxy and runs it on config/trproxy.yaml; creates a development CA in certs/ on first use.
# Installs only what building and running need (packages.txt [runtime] and [build]) and builds
# only the proxy: no tests, no benchmarks (scripts/test.sh turns them back on).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
TRPROXY_SETUP=build "$root/scripts/build.sh" -DTRPROXY_TESTS=OFF -DTRPROXY_BENCH=OFF
bin="$root/build/trproxy"
config=${1:-$root/config/trproxy.yaml}
if [ ! -f "$root/certs/ca.crt" ]; then
  "$bin" ca init --dir "$root/certs"
fi
exec "$bin" --config "$config"
