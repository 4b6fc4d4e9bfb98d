#!/usr/bin/env bash
# `make run`: the main job on the embedded default. Generates a small demo model once
# (seeded random weights: the text is noise, but every byte of the path is real), then
# serves it with the OpenAI-compatible API and KV offload to a local cache directory,
# exactly as the seed's Helm values configure vLLM + LMCache. Ctrl-C stops it; the cache
# directory survives, so the next `make run` starts warm.
# Override with KVSPILL_DEMO_DIR, PORT, HOST.
set -euo pipefail
build=${1:-build}
kvspill="$build/kvspill"
demo=${KVSPILL_DEMO_DIR:-demo}
port=${PORT:-8000}
host=${HOST:-127.0.0.1}
mkdir -p "$demo/cache"

if [ ! -f "$demo/model.gguf" ]; then
  echo "== generating the demo model ($demo/model.gguf)"
  "$kvspill" model gen --out "$demo/model.gguf" --layers 8 --dim 512 --heads 8 --kv-heads 4 \
    --ff 1408 --type f16 --seed 1 --ctx 8192
fi

export LMCACHE_CHUNK_SIZE=${LMCACHE_CHUNK_SIZE:-256}
export LMCACHE_LOCAL_CPU=${LMCACHE_LOCAL_CPU:-True}
export LMCACHE_MAX_LOCAL_CPU_SIZE=${LMCACHE_MAX_LOCAL_CPU_SIZE:-1}
export LMCACHE_LOCAL_DISK=${LMCACHE_LOCAL_DISK:-file://$(cd "$demo/cache" && pwd)}
export LMCACHE_MAX_LOCAL_DISK_SIZE=${LMCACHE_MAX_LOCAL_DISK_SIZE:-2}

# A long prompt (over one 256-token chunk) to send twice.
request="$demo/request.json"
python3 - "$request" <<'PY'
import json, sys
prompt = " ".join(f"Paragraph {i}: the KV cache of a long prompt is computed once, spilled to "
                  f"host memory and disk, and loaded back instead of recomputed." for i in range(12))
json.dump({"model": "demo", "prompt": prompt, "max_tokens": 16, "temperature": 0},
          open(sys.argv[1], "w"))
PY

cat <<MSG

== kvspill serves $demo/model.gguf on http://$host:$port (Ctrl-C to stop)
   KV offload: host RAM ${LMCACHE_MAX_LOCAL_CPU_SIZE} GB, then $LMCACHE_LOCAL_DISK (${LMCACHE_MAX_LOCAL_DISK_SIZE} GB)

   Try, from another terminal:
     curl -s http://$host:$port/v1/models
     curl -s http://$host:$port/v1/completions -H 'Content-Type: application/json' -d @$request
   Run the completion twice: the second reports usage.prompt_tokens_details.cached_tokens;
   stop and start the server and it is served from $demo/cache.
     curl -s http://$host:$port/metrics | grep kvspill_
     $kvspill cache stat $demo/cache

MSG
exec "$kvspill" serve --model "$demo/model.gguf" --served-model-name demo --host "$host" \
  --port "$port" --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
