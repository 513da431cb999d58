#!/usr/bin/env bash
# Builds trproxy and runs it on config/trproxy.yaml; creates a development CA in certs/ on first use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
bin="$root/build/trproxy"
config=${1:-$root/config/trproxy.yaml}
if [ ! -f "$root/certs/ca.crt" ]; then
  "$bin" ca init --dir "$root/certs"
fi
exec "$bin" --config "$config"
