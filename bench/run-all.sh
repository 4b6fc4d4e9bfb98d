#!/usr/bin/env bash
# `make bench`: every benchmark with short settings (about 10 minutes on 2 cores), each
# printing its ratio to the baseline it measures in the same run. Models are generated into
# BUILD/bench-models once; scratch data goes to a temporary directory on the repo's disk.
# usage: bench/run-all.sh [BUILD]   (default: build)
set -euo pipefail
BUILD=${1:-build}
KV="$BUILD/kvspill"
[ -x "$KV" ] || { echo "run-all.sh: $KV not built (make build)" >&2; exit 2; }
MODELS="$BUILD/bench-models"
mkdir -p "$MODELS"
# A shape where 2 cores prefill 2k tokens in a few seconds; ctx 8448 holds an 8192-token
# prompt plus the tokens the benchmark computes and generates after it.
TTFT_MODEL="$MODELS/ttft-f16.gguf"
[ -f "$TTFT_MODEL" ] || "$KV" model gen --out "$TTFT_MODEL" --layers 8 --dim 512 --heads 8 \
  --kv-heads 4 --ff 1408 --type f16 --ctx 8448
SCRATCH=$(mktemp -d "$(cd "$BUILD" && pwd)/bench-scratch.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== bench io: file tier / raw sequential I/O"
mkdir -p "$SCRATCH/io"
"$KV" bench io --dir "$SCRATCH/io" --chunks 16

echo "== bench engine: prefill and decode tokens/s"
"$KV" bench engine --model "$TTFT_MODEL" --prompt-tokens 256 --gen-tokens 32 --threads 2

echo "== bench ttft: time to first token, cold and warm (ratio = ttft / ideal)"
"$KV" bench ttft --model "$TTFT_MODEL" --cache-dir "$SCRATCH/ttft" --lengths 1024,2048,4096,8192 \
  --json >"$SCRATCH/ttft.json"
python3 - "$SCRATCH/ttft.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["lengths"]:
    ideal = " ideal %8.1f ms  ratio %.2f" % (r["ideal_s"] * 1e3, r["ratio"]) if r["ideal_s"] else ""
    print("%6d %-8s ttft %8.1f ms%s" % (r["length"], r["case"], r["ttft_s"] * 1e3, ideal))
PY
if command -v gnuplot >/dev/null; then
  bash "$(dirname "$0")/plot_ttft.sh" "$SCRATCH/ttft.json" "$BUILD/ttft.png"
fi

echo "== bench ttft --concurrency 16: multi-turn chat, cache off vs on"
"$KV" bench ttft --model "$TTFT_MODEL" --cache-dir "$SCRATCH/chat" --concurrency 16 --turns 4
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
