#!/usr/bin/env bash
# kvspill model gen -> model info (text and --json) -> model tokenize, on generated models
# and on the reference vocabulary files.
set -u
BIN=${KVSPILL_BIN:?KVSPILL_BIN not set}
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-model-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL: $1: got '$3', want '$2'"; fails=$((fails + 1)); else echo "ok: $1"; fi
}
field() { grep "^$1: " "$2" | head -1 | cut -d' ' -f2-; }

"$BIN" model gen --out "$DIR/a.gguf" --layers 3 --dim 96 --heads 6 --kv-heads 2 --ff 160 \
    --ctx 512 --rope-base 500000 --type q8_0 --seed 7; check "gen q8_0" 0 $?
"$BIN" model info "$DIR/a.gguf" > "$DIR/info"; check "info" 0 $?
check "architecture" llama "$(field architecture "$DIR/info")"
check "layers" 3 "$(field layers "$DIR/info")"
check "dim" 96 "$(field dim "$DIR/info")"
check "heads" 6 "$(field heads "$DIR/info")"
check "kv_heads" 2 "$(field kv_heads "$DIR/info")"
check "ff" 160 "$(field ff "$DIR/info")"
check "context" 512 "$(field context "$DIR/info")"
check "rope_base" 500000 "$(field rope_base "$DIR/info")"
check "rope_dims" 16 "$(field rope_dims "$DIR/info")"
check "tokenizer" gpt2 "$(field tokenizer "$DIR/info")"
check "chat template" chatml "$(field chat_template "$DIR/info")"
check "chat template source" "gguf (jinja)" "$(field chat_template_source "$DIR/info")"
check "tensors" 30 "$(field tensors "$DIR/info")"
check "types" "f32=7 q8_0=23" "$(field types "$DIR/info")"
check "file size" "$(stat -c %s "$DIR/a.gguf")" "$(field file_size "$DIR/info")"

# deterministic for a seed, different for another
"$BIN" model gen --out "$DIR/b.gguf" --layers 3 --dim 96 --heads 6 --kv-heads 2 --ff 160 \
    --ctx 512 --rope-base 500000 --type q8_0 --seed 7
check "same seed, same bytes" "$(sha256sum < "$DIR/a.gguf")" "$(sha256sum < "$DIR/b.gguf")"
"$BIN" model gen --out "$DIR/c.gguf" --layers 3 --dim 96 --heads 6 --kv-heads 2 --ff 160 \
    --ctx 512 --rope-base 500000 --type q8_0 --seed 8
"$BIN" model info "$DIR/c.gguf" > "$DIR/info_c"
[ "$(field fingerprint "$DIR/info")" != "$(field fingerprint "$DIR/info_c")" ]; check "other seed, other fingerprint" 0 $?

for t in f16 bf16; do
    "$BIN" model gen --out "$DIR/$t.gguf" --type $t; check "gen $t" 0 $?
    "$BIN" model info --json "$DIR/$t.gguf" > "$DIR/$t.json"; check "info --json $t" 0 $?
    check "json types $t" "{'f32': 5, '$t': 16}" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["types"])' "$DIR/$t.json")"
done

# K-quants: q4_k_m mixes Q4_K and Q6_K (output.weight, and attn_v/ffn_down of layer 1 of 2),
# the file type says Q4_K_M (15), and the model loads and generates
"$BIN" model gen --out "$DIR/km.gguf" --dim 256 --ff 512 --heads 4 --kv-heads 2 --type q4_k_m --seed 3
check "gen q4_k_m" 0 $?
"$BIN" model info "$DIR/km.gguf" > "$DIR/info_km"; check "info q4_k_m" 0 $?
check "types q4_k_m" "f32=5 q4_k=13 q6_k=3" "$(field types "$DIR/info_km")"
check "file_type q4_k_m" 15 "$(python3 -c 'import sys, struct  # key, value type (u32), value
d = open(sys.argv[1], "rb").read(); k = b"general.file_type"; i = d.index(k) + len(k)
print(struct.unpack_from("<I", d, i + 4)[0])' "$DIR/km.gguf")"
printf 'Hello world' > "$DIR/prompt"
"$BIN" generate --model "$DIR/km.gguf" --prompt-file "$DIR/prompt" -n 8 --greedy > "$DIR/gen_km"
check "generate q4_k_m" 0 $?
check "generate q4_k_m: 8 tokens" 8 "$(head -1 "$DIR/gen_km" | wc -w)"
"$BIN" model gen --out "$DIR/x.gguf" --dim 96 --ff 160 --type q6_k 2> "$DIR/err"; check "gen q6_k dim 96" 1 $?
grep -q "must be multiples of 256" "$DIR/err"; check "gen q6_k shape message" 0 $?
for t in q4_0 q4_k q6_k; do
    "$BIN" model gen --out "$DIR/$t.gguf" --dim 256 --ff 256 --heads 4 --type $t; check "gen $t" 0 $?
    check "types $t" "f32=5 $t=16" "$("$BIN" model info "$DIR/$t.gguf" | grep '^types: ' | cut -d' ' -f2-)"
done

# Qwen: the architecture, its head size, the qwen2 pre-tokenizer and the GGUF's own template
# (tests/integration/test_numpy_reference.sh checks their logits)
"$BIN" model gen --out "$DIR/q2.gguf" --arch qwen2 --tie-output; check "gen qwen2" 0 $?
"$BIN" model info "$DIR/q2.gguf" > "$DIR/info_q2"
check "qwen2 architecture" qwen2 "$(field architecture "$DIR/info_q2")"
check "qwen2 tokenizer" gpt2 "$(field tokenizer "$DIR/info_q2")"
check "qwen2 pre-tokenizer" qwen2 "$(field tokenizer_pre "$DIR/info_q2")"
check "qwen2 template source" "gguf (jinja)" "$(field chat_template_source "$DIR/info_q2")"
check "qwen2 tensors (biases, tied output)" 26 "$(field tensors "$DIR/info_q2")"
"$BIN" model gen --out "$DIR/q3.gguf" --arch qwen3 --head-dim 32; check "gen qwen3" 0 $?
"$BIN" model info --json "$DIR/q3.gguf" > "$DIR/q3.json"
check "qwen3 json" "qwen3 32 32 25" "$(python3 -c 'import json,sys; j = json.load(open(sys.argv[1]))
print(j["architecture"], j["head_dim"], j["rope_dims"], j["tensors"])' "$DIR/q3.json")"
"$BIN" generate --model "$DIR/q3.gguf" --prompt-file "$DIR/prompt" -n 4 --greedy > /dev/null
check "generate qwen3" 0 $?
"$BIN" model gen --out "$DIR/x.gguf" --arch gemma2 2> /dev/null; check "gen bad arch" 2 $?

# bad arguments are usage errors; a non-GGUF is refused with a message
"$BIN" model gen --out "$DIR/x.gguf" --dim 65 --heads 4 2> "$DIR/err"; check "gen bad dim" 1 $?
[ ! -e "$DIR/x.gguf" ]; check "no file left behind" 0 $?
"$BIN" model gen --out "$DIR/x.gguf" --type q5_k 2> /dev/null; check "gen bad type" 2 $?
echo "not a model" > "$DIR/junk"
"$BIN" model info "$DIR/junk" 2> "$DIR/err"; check "info junk" 1 $?
grep -q "not a GGUF file" "$DIR/err"; check "info junk message" 0 $?

# tokenize with the generated vocabulary: BOS, special tokens, plain text
printf 'Hello world<|im_end|>' > "$DIR/text"
"$BIN" model tokenize --model "$DIR/a.gguf" --text-file "$DIR/text" --bos --special > "$DIR/ids"; check "tokenize" 0 $?
bos=$(field bos "$DIR/info")
check "tokenize starts with BOS" "$bos" "$(cut -d' ' -f1 < "$DIR/ids")"
n_vocab=$(field vocab_size "$DIR/info")
check "tokenize ends with <|im_end|>" "$((n_vocab - 1))" "$(awk '{print $NF}' < "$DIR/ids")"

SHARED=${KVSPILL_SHARED_DIR:-}
if [ -n "$SHARED" ] && [ -d "$SHARED/testdata/vocab" ]; then
    printf 'Hello world' > "$DIR/hw"
    check "tokenize llama-spm" "15043 3186" \
        "$("$BIN" model tokenize --model "$SHARED/testdata/vocab/ggml-vocab-llama-spm.gguf" --text-file "$DIR/hw")"
    check "tokenize gpt-2" "15496 995" \
        "$("$BIN" model tokenize --model "$SHARED/testdata/vocab/ggml-vocab-gpt-2.gguf" --text-file "$DIR/hw")"
    check "tokenize reference prompt" "$(cat "$SHARED/testdata/reference/tiny-f32.short.tokens.txt")" \
        "$("$BIN" model tokenize --model "$SHARED/testdata/models/tiny-f32.gguf" --bos \
            --text-file "$SHARED/testdata/reference/short_prompt.txt")"
    "$BIN" model gen --out "$DIR/v.gguf" --vocab-from "$SHARED/testdata/vocab/ggml-vocab-llama-spm.gguf"
    check "gen --vocab-from" 0 $?
    "$BIN" model info "$DIR/v.gguf" > "$DIR/info_v"
    check "copied vocabulary" 32000 "$(field vocab_size "$DIR/info_v")"
    check "copied tokenizer" llama "$(field tokenizer "$DIR/info_v")"
else
    echo "skip: reference vocabularies (KVSPILL_SHARED_DIR not set)"
fi

[ $fails -eq 0 ] && echo "all passed" || echo "$fails failed"
[ $fails -eq 0 ]
