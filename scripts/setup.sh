#!/usr/bin/env bash
# Installs the Debian packages listed in packages.txt, once; later runs are a no-op.
#   setup.sh          everything (runtime + build + test: scripts/test.sh)
#   setup.sh build    what compiling and running trproxy need (scripts/run.sh, the container build stage)
#   setup.sh runtime  what running the built binary needs (the container runtime stage)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-all}
case "$profile" in all|build|runtime) ;; *) echo "setup: unknown profile '$profile' (all, build or runtime)" >&2; exit 2 ;; esac
wanted=()
section=""
while IFS= read -r line; do
  case "$line" in
    "# [runtime]"*) section=runtime ;;
    "# [build]"*) section=build ;;
    "# [test]"*) section=test ;;
    ""|"#"*) ;;
    *) case "$profile:$section" in
         all:*|build:build|build:runtime|runtime:runtime) wanted+=("$line") ;;
       esac ;;
  esac
done < "$root/packages.txt"
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
