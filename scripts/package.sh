#!/usr/bin/env bash
# Builds the Debian package (CPack DEB): the binary, the systemd unit, the default config as a
# conffile, the sysusers.d/tmpfiles.d/logrotate fragments, trproxy(1) and the README, with the
# library dependencies from dpkg-shlibdeps. Prints the .deb's path.
#   TRPROXY_PACKAGE_DIR   build folder (default build-deb/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TRPROXY_PACKAGE_DIR:-$root/build-deb}
TRPROXY_SETUP=build TRPROXY_BUILD_DIR="$build" "$root/scripts/build.sh" -DCMAKE_INSTALL_PREFIX=/usr \
  -DTRPROXY_TESTS=OFF -DTRPROXY_BENCH=OFF >&2
rm -f "$build"/trproxy_*.deb
(cd "$build" && cpack -G DEB >&2)
ls "$build"/trproxy_*.deb
