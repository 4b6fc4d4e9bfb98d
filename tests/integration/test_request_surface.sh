#!/bin/bash
# The OpenAI request surface on a generated random-weight model
# (tests/support/request_surface_check.py): logprobs/top_logprobs counts and values against
# `kvspill model logits`, echo with prompt logprobs and scoring (max_tokens 0), stop strings
# across token boundaries in streams, seed reproducibility, n with best_of,
# stream_options.include_usage, max_completion_tokens, /v1/embeddings refused.
set -euo pipefail
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-surface-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
"$KVSPILL_BIN" model gen --out "$DIR/m.gguf" --layers 1 --dim 32 --heads 2 --kv-heads 1 \
  --ff 64 --ctx 2048 >/dev/null
python3 "$KVSPILL_SOURCE_DIR/tests/support/request_surface_check.py" "$DIR/m.gguf" "$DIR" ||
  { tail -n 20 "$DIR"/surface.log; exit 1; }
