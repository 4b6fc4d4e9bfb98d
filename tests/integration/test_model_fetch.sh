#!/bin/bash
# `serve --model URL` and `--model org/repo:file.gguf` against a local server
# (tests/support/range_server.py) whose first transfer breaks half-way: the download
# resumes with Range, the sha256 (fragment or X-Linked-Etag) is checked, HF_TOKEN is sent,
# the file is fetched once, and a wrong sha256 or a reference without a file is refused.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
BIN="${KVSPILL_BIN:-$PWD/kvspill}"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
python3 "$ROOT/tests/support/range_server.py" "$DIR/port" "$MODEL" tok "$DIR/requests" &
PIDS+=($!)
for _ in $(seq 50); do [ -f "$DIR/port" ] && break; sleep 0.1; done
P=$(cat "$DIR/port")
SHA=$(sha256sum "$MODEL" | cut -d' ' -f1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export KVSPILL_MODEL_CACHE="$DIR/cache"

serve_once() {  # serve_once LOG MODEL: start serve, wait for /health, stop it
  local log="$1" port; port=$(free_port)
  "$BIN" serve --model "$2" --host 127.0.0.1 --port "$port" > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && { kill "$pid"; wait "$pid" || true; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: serve exited:"; cat "$log"; exit 1; }
    sleep 0.2
  done
  echo "FAIL: serve not healthy:"; cat "$log"; exit 1
}

serve_once "$DIR/url.log" "http://127.0.0.1:$P/files/tiny-f32.gguf#sha256=$SHA"
grep -q "attempt 1 of" "$DIR/url.log" || { echo "FAIL: the broken transfer was not reported"; cat "$DIR/url.log"; exit 1; }
grep -q "sha256 checked" "$DIR/url.log" || { echo "FAIL: no sha256 check"; cat "$DIR/url.log"; exit 1; }
grep -q "files/tiny-f32.gguf range=bytes=[1-9]" "$DIR/requests" || { echo "FAIL: no Range resume"; cat "$DIR/requests"; exit 1; }
cmp "$MODEL" "$DIR"/cache/*-tiny-f32.gguf
n=$(wc -l < "$DIR/requests")
serve_once "$DIR/again.log" "http://127.0.0.1:$P/files/tiny-f32.gguf#sha256=$SHA"
[ "$(wc -l < "$DIR/requests")" = "$n" ] || { echo "FAIL: fetched twice"; exit 1; }

# Hugging Face reference: the token is sent, the X-Linked-Etag is the sha256.
HF_ENDPOINT="http://127.0.0.1:$P" HF_TOKEN=tok serve_once "$DIR/hf.log" "org/repo:tiny-f32.gguf"
grep -q "sha256 checked" "$DIR/hf.log" || { echo "FAIL: HF sha256 not checked"; cat "$DIR/hf.log"; exit 1; }
grep -q "/org/repo/resolve/main/tiny-f32.gguf range=bytes=[1-9]" "$DIR/requests" || { echo "FAIL: HF resume"; exit 1; }

# The router takes the same references (the chart gives it the replicas' modelURL): it
# fetches the file into its own cache and routes prefixaware on the cache's chunk keys.
port=$(free_port)
KVSPILL_MODEL_CACHE="$DIR/router-cache" "$BIN" router --backends "http://127.0.0.1:$(free_port)" \
  --host 127.0.0.1 --port "$port" --routing-logic prefixaware \
  --model "http://127.0.0.1:$P/files/tiny-f32.gguf#sha256=$SHA" > "$DIR/router.log" 2>&1 &
rpid=$!
for _ in $(seq 150); do
  grep -q "routing (prefixaware)" "$DIR/router.log" && break
  kill -0 "$rpid" 2>/dev/null || { echo "FAIL: router exited:"; cat "$DIR/router.log"; exit 1; }
  sleep 0.2
done
kill "$rpid"; wait "$rpid" || true
grep -q "routing (prefixaware)" "$DIR/router.log" || { echo "FAIL: router did not start:"; cat "$DIR/router.log"; exit 1; }
grep -q "sha256 checked" "$DIR/router.log" || { echo "FAIL: router: no sha256 check"; cat "$DIR/router.log"; exit 1; }
! grep -q "without --model" "$DIR/router.log" || { echo "FAIL: router fell back to characters"; cat "$DIR/router.log"; exit 1; }
cmp "$MODEL" "$DIR"/router-cache/*-tiny-f32.gguf

# Refusals, each with its reason; nothing is left in place.
refuse() {  # refuse NEEDLE MODEL [env...]
  local needle="$1" model="$2"; shift 2
  if env "$@" "$BIN" serve --model "$model" --port "$(free_port)" > "$DIR/bad.log" 2>&1; then
    echo "FAIL: served $model"; exit 1
  fi
  grep -q -- "$needle" "$DIR/bad.log" || { echo "FAIL: no '$needle':"; cat "$DIR/bad.log"; exit 1; }
}
BAD=0000000000000000000000000000000000000000000000000000000000000000
refuse "expected $BAD" "http://127.0.0.1:$P/other/tiny-f32.gguf#sha256=$BAD" KVSPILL_MODEL_CACHE="$DIR/c2"
[ -z "$(ls "$DIR/c2")" ] || { echo "FAIL: a file with a wrong sha256 was kept"; ls "$DIR/c2"; exit 1; }
refuse "HTTP 401" "org/repo:tiny-f32.gguf" HF_ENDPOINT="http://127.0.0.1:$P" HF_TOKEN=wrong KVSPILL_MODEL_CACHE="$DIR/c3"
refuse "must name its GGUF file" "org/repo"
echo "ok: model fetch"
