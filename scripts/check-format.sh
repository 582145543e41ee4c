#!/usr/bin/env bash
# Fails when a C/C++ source differs from .clang-format's layout (Debian's
# clang-format 14). Generated files are skipped. Fix with:
#   git ls-files '*.cc' '*.h' '*.c' | grep -v esp_vectors.h | xargs clang-format -i
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format >/dev/null || { echo "skip: clang-format not installed"; exit 77; }
git rev-parse --git-dir >/dev/null 2>&1 || { echo "skip: not a git checkout"; exit 77; }
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' | grep -v 'tests/dataplane/ipsec/esp_vectors.h')
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files match .clang-format"
