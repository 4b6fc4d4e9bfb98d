#!/bin/bash
# Structured outputs on a generated random-weight model (tests/support/structured_outputs_check.py):
# 30+ JSON schemas at temperature 0 and 1 validate with Python's jsonschema, json_object,
# guided_regex, guided_choice, guided_grammar and a stream hold, and unsupported or
# unsatisfiable requests are 400s naming the construct.
set -euo pipefail
python3 -c 'import jsonschema' 2>/dev/null || { echo "SKIP: python3-jsonschema missing"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-structured-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
"$KVSPILL_BIN" model gen --out "$DIR/m.gguf" --layers 1 --dim 32 --heads 2 --kv-heads 1 \
  --ff 64 --ctx 2048 >/dev/null
python3 "$KVSPILL_SOURCE_DIR/tests/support/structured_outputs_check.py" "$DIR/m.gguf" "$DIR" ||
  { cat "$DIR"/structured.log | tail -20; exit 1; }
