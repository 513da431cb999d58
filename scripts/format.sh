#!/usr/bin/env bash
# Formats the tracked C++ sources with the tree's .clang-format (clang-format 14, Debian 12);
# with --check, changes nothing and fails naming the files that are not formatted (ctest runs it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' ':!tests/layering/*')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run -Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
