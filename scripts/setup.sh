#!/usr/bin/env bash
# Installs the Debian packages listed in packages.txt, once; later runs are a no-op.
#   setup.sh          everything (build + test)
#   setup.sh build    only what compiling trproxy needs (the container build stage)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-all}
wanted=()
section=""
while IFS= read -r line; do
  case "$line" in
    "# [build]"*) section=build ;;
    "# [test]"*) section=test ;;
    ""|"#"*) ;;
    *) if [ "$profile" = all ] || [ "$section" = "$profile" ]; then wanted+=("$line"); fi ;;
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
