#!/bin/bash
# `kvspill generate --greedy` from the prompt text reproduces the reference continuation
# (tokenizer → prefill → decode steps → argmax), and a seeded sampled run is repeatable.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
[ -d "$S" ] || { echo "SKIP: reference data not found (KVSPILL_SHARED_DIR)"; exit 77; }
for m in tiny-f32 tiny-f16; do
  got=$("$KVSPILL_BIN" generate --model "$S/models/$m.gguf" --prompt-file "$S/reference/short_prompt.txt" \
        -n 16 --greedy --threads 2 | head -1)
  want=$(tr -s ' \n' ' ' <"$S/reference/$m.short.greedy.txt" | sed 's/ *$//')
  [ "$got" = "$want" ] || { echo "$m: got '$got', expected '$want'"; exit 1; }
done
a=$("$KVSPILL_BIN" generate --model "$S/models/tiny-q8_0.gguf" --tokens-file "$S/reference/tiny-q8_0.short.tokens.txt" -n 12 --seed 5 --temp 1.0)
b=$("$KVSPILL_BIN" generate --model "$S/models/tiny-q8_0.gguf" --tokens-file "$S/reference/tiny-q8_0.short.tokens.txt" -n 12 --seed 5 --temp 1.0)
[ "$a" = "$b" ] && [ "$(head -1 <<<"$a" | wc -w)" -ge 1 ]
echo PASS
