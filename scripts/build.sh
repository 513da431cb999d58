#!/usr/bin/env bash
# Configures and builds trproxy into build/ (Release with debug info), using ninja and ccache.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" "${TRPROXY_SETUP:-all}"
build_dir=${TRPROXY_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" -j "${TRPROXY_JOBS:-2}"
