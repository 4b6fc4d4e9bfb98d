#!/bin/bash
# deploy/Containerfile: builds the image, runs a replica (kvspill serve) and the router
# from it on the host network, and completes a chat request through the router. Skips,
# saying why, where no container engine works or the debian:12 base image is neither
# local nor pullable (no registry: build one with debootstrap, see deploy/README.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
ENGINE=$("$ROOT/scripts/container-engine.sh" 2>&1) || { echo "SKIP: $ENGINE"; exit 77; }
if ! $ENGINE image inspect debian:12 >/dev/null 2>&1 &&
   ! timeout 120 $ENGINE pull debian:12 >/dev/null 2>&1; then
  echo "SKIP: no debian:12 image locally and none can be pulled"; exit 77
fi
TAG="kvspill-test:$$"
NAMES=()
cleanup() {
  for n in "${NAMES[@]}"; do $ENGINE rm -f "$n" >/dev/null 2>&1 || true; done
  $ENGINE rmi -f "$TAG" >/dev/null 2>&1 || true
}
trap cleanup EXIT
$ENGINE build -q -f "$ROOT/deploy/Containerfile" -t "$TAG" "$ROOT" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port); PR=$(free_port)
NAMES+=("kvspill-replica-$$" "kvspill-router-$$")
$ENGINE run -d --name "kvspill-replica-$$" --network host -e VLLM_API_KEY=k \
  -v "$(dirname "$MODEL"):/models:ro" "$TAG" serve --model /models/tiny-f32.gguf \
  --served-model-name tiny --host 127.0.0.1 --port "$P1" >/dev/null
$ENGINE run -d --name "kvspill-router-$$" --network host -e VLLM_API_KEY=k "$TAG" \
  router --backends "http://127.0.0.1:$P1" --host 127.0.0.1 --port "$PR" >/dev/null
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PR/health" >/dev/null && break; sleep 0.2
done
out=$(curl -sf -H 'Authorization: Bearer k' -H 'Content-Type: application/json' \
  -d '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":4}' \
  "http://127.0.0.1:$PR/v1/chat/completions")
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["choices"][0]["message"]["content"] is not None'
[ "$($ENGINE run --rm "$TAG" --help 2>&1 | grep -c 'router')" -ge 1 ] || { echo "FAIL: entry point is not kvspill"; exit 1; }
[ "$($ENGINE run --rm --entrypoint id "$TAG" -u)" = 10001 ] || { echo "FAIL: image runs as root"; exit 1; }
echo "ok: container image"
