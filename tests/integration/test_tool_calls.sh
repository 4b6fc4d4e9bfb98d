#!/bin/bash
# Tool calling on generated random-weight models with published chat templates
# (tests/support/tool_calls_check.py): forced
# calls ("required", a named function) valid against the tools' schemas in the hermes,
# mistral and llama3_json formats at temperature 0 and 1, streamed and not, and a second
# turn with the tool results reusing the first turn's KV.
set -euo pipefail
python3 -c 'import jsonschema' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }
TEMPLATES=${KVSPILL_SHARED_DIR:-$KVSPILL_SOURCE_DIR/../shared}/testdata/templates
[ -d "$TEMPLATES" ] || { echo "SKIP: no chat templates in $TEMPLATES"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-tools-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
gen() {
  "$KVSPILL_BIN" model gen --out "$1" --layers 1 --dim 32 --heads 2 --kv-heads 1 --ff 64 \
    --ctx 4096 "${@:2}" >/dev/null
}
gen "$DIR/chatml.gguf"
gen "$DIR/tekken.gguf" --vocab-style tekken
python3 "$KVSPILL_SOURCE_DIR/tests/support/tool_calls_check.py" "$DIR/chatml.gguf" \
  "$DIR/tekken.gguf" "$TEMPLATES" "$DIR" || { for f in "$DIR"/*.log; do tail -n 20 "$f"; done; exit 1; }
