#!/usr/bin/env bash
# Builds every CMake build type with gcc and with clang, warnings as errors, so that a
# packager's `-DCMAKE_BUILD_TYPE=Release` (or MinSizeRel, where other optimiser passes run
# and warn) is known to build. Without CUDA: nvcc's host compiler is gcc either way.
# Usage: scripts/build-matrix.sh [WORK_DIR]   (`make build-matrix`; .ci/run calls it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$ROOT/build-matrix}"
JOBS="${JOBS:-$(nproc)}"
failed=()
for cc in gcc clang; do
  for type in Release RelWithDebInfo Debug MinSizeRel; do
    dir="$WORK/$cc-$type"
    log="$dir.log"
    mkdir -p "$WORK"
    printf 'build-matrix: %-6s %-15s ' "$cc" "$type"
    if CC="$cc" cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
         -DKVSPILL_CUDA=OFF -DKVSPILL_WERROR=ON >"$log" 2>&1 &&
       cmake --build "$dir" -j "$JOBS" >>"$log" 2>&1; then
      echo ok
    else
      echo "FAILED (log: $log)"
      grep -E 'error|warning' "$log" | head -20 || true
      failed+=("$cc-$type")
    fi
  done
done
if ((${#failed[@]})); then
  echo "build-matrix: failed: ${failed[*]}" >&2
  exit 1
fi
echo "build-matrix: all 8 builds ok"
