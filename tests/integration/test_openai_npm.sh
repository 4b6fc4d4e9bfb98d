#!/bin/bash
# The official OpenAI client (npm `openai`, tests/npm, installed by scripts/install-deps.sh)
# makes a tool call with tool_choice "required" against a generated random-weight model with
# Qwen 2.5's published template, whole and streamed, and sends the result back in a second
# turn that reuses the first turn's KV.
set -euo pipefail
NPM_DIR=$KVSPILL_SOURCE_DIR/tests/npm
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[ -d "$NPM_DIR/node_modules/openai" ] ||
  { echo "SKIP: $NPM_DIR/node_modules is missing (run scripts/install-deps.sh)"; exit 77; }
TEMPLATES=${KVSPILL_SHARED_DIR:-$KVSPILL_SOURCE_DIR/../shared}/testdata/templates
[ -d "$TEMPLATES" ] || { echo "SKIP: no chat templates in $TEMPLATES"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-npm-XXXXXX")
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
"$KVSPILL_BIN" model gen --out "$DIR/m.gguf" --layers 1 --dim 32 --heads 2 --kv-heads 1 \
  --ff 64 --ctx 4096 >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KVSPILL_BIN" serve --model "$DIR/m.gguf" --host 127.0.0.1 --port "$PORT" --threads 2 \
  --max-model-len 4096 --chat-template "$TEMPLATES/Qwen-Qwen2.5-7B-Instruct.jinja" \
  --enable-auto-tool-choice --tool-call-parser hermes 2>"$DIR/serve.log" &
PID=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$DIR/serve.log"; exit 1; }
  sleep 0.1
done
node "$NPM_DIR/tool_call.mjs" "http://127.0.0.1:$PORT/v1" || { tail -n 20 "$DIR/serve.log"; exit 1; }
