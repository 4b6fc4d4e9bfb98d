#!/usr/bin/env bash
# `make run`: the main job on the embedded default. Generates a small demo model (once),
# generates text from it, and exercises the KV offload library on a local cache directory.
# Everything lives under ./demo (ignored by git); delete it to start over.
set -euo pipefail
build=${1:-build}
kvspill="$build/kvspill"
demo=${KVSPILL_DEMO_DIR:-demo}
mkdir -p "$demo/cache"

if [ ! -f "$demo/model.gguf" ]; then
  echo "== generating the demo model ($demo/model.gguf)"
  "$kvspill" model gen --out "$demo/model.gguf" --layers 8 --dim 512 --heads 8 --kv-heads 4 \
    --ff 1408 --type f16 --seed 1 --ctx 4096
fi
"$kvspill" model info "$demo/model.gguf"

prompt="$demo/prompt.txt"
[ -f "$prompt" ] || echo "The KV cache of a long prompt is computed once and loaded afterwards." > "$prompt"
echo
echo "== generating 32 tokens (random weights: the text is noise, the ids are reproducible)"
"$kvspill" generate --model "$demo/model.gguf" --prompt-file "$prompt" -n 32 --greedy

echo
echo "== the file tier on $demo/cache: bandwidth against the raw file system"
"$kvspill" bench io --dir "$demo/cache" --chunks 16 --keep
"$kvspill" cache stat "$demo/cache"
"$kvspill" cache verify "$demo/cache"
