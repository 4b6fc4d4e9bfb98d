#!/usr/bin/env bash
# Soak of the real server with KV offload for N seconds (see scripts/soak.py): generates a
# small model once into BUILD/soak/, starts from an empty cache directory every run.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-300}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(cd "$build" && pwd)/soak
mkdir -p "$work"
model="$work/model.gguf"
[ -f "$model" ] || "$build/kvspill" model gen --out "$model" --layers 2 --dim 64 --type f16
rm -rf "$work/cache"
exec python3 "$src/scripts/soak.py" "$(cd "$build" && pwd)/kvspill" "$model" "$work" "$seconds"
