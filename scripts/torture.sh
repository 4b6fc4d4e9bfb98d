#!/usr/bin/env bash
# Faults under load (see scripts/torture.py): PHASE_SECONDS per fault, the model generated
# once into BUILD/torture/. Needs root (it mounts a tmpfs); exits 77 where it cannot.
set -euo pipefail
build=${1:?build dir}
phase_seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(cd "$build" && pwd)/torture
mkdir -p "$work"
model="$work/model.gguf"
[ -f "$model" ] || "$build/kvspill" model gen --out "$model" --layers 2 --dim 64 --type f16
exec python3 "$src/scripts/torture.py" "$(cd "$build" && pwd)/kvspill" "$model" "$work" \
  "$phase_seconds"
