#!/bin/bash
# kvspill's forward pass against an independent one (tests/support/numpy_forward.py, NumPy
# reading the GGUF itself). First the script is proved on the llama path against the
# shipped references (logits within ../shared/testdata/README.md's tolerances, greedy
# continuations equal); then generated qwen2 (QKV bias, NeoX RoPE, tied and untied output)
# and qwen3 (per-head Q/K norm, heads wider than dim / heads) models must agree with it
# within the same tolerances, logits and greedy continuation alike.
set -euo pipefail
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: python3-numpy not installed"; exit 77; }
NP="$KVSPILL_SOURCE_DIR/tests/support/numpy_forward.py"
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
checks=0

# Our logits and the script's for MODEL on TOKENS at POSITIONS, within TOL (KV dtype KV).
agree() {
  local model=$1 tok=$2 pos=$3 ref=$4 vocab=$5 tol=$6 kv=$7
  "$KVSPILL_BIN" model logits --model "$model" --tokens-file "$tok" --positions-file "$pos" \
    --out "$T/ours.f32" --kv "$kv" --threads 2
  "$PY" "$NP" compare "$T/ours.f32" "$ref" "$vocab" "$tol"
  checks=$((checks + 1))
}

# Greedy continuations of up to N tokens: ours (F32 KV) equal to WANT (generate, like
# serving, ends after an end-of-sequence or end-of-turn token).
greedy_is() {
  local model=$1 tok=$2 n=$3 want=$4
  local ours
  ours=$("$KVSPILL_BIN" generate --model "$model" --tokens-file "$tok" -n "$n" --greedy \
    --kv f32 --threads 2 2>/dev/null | head -1)
  [ "$ours" = "$want" ] || { echo "greedy on $model: ours '$ours', reference '$want'"; exit 1; }
  checks=$((checks + 1))
}

# 1. The script on the llama path against the shipped references.
if [ -d "$S/reference" ]; then
  for spec in tiny-f32:short:1e-4 tiny-f32:long:1e-4 tiny-f16:short:5e-3; do
    IFS=: read -r m p tol <<<"$spec"
    R="$S/reference/$m.$p"
    "$PY" "$NP" logits "$S/models/$m.gguf" "$R.tokens.txt" "$R.positions.txt" "$T/np.f32"
    "$PY" "$NP" compare "$T/np.f32" "$R.logits.f32" 32000 "$tol"
    n=$(wc -w <"$R.greedy.txt")
    got=$("$PY" "$NP" greedy "$S/models/$m.gguf" "$R.tokens.txt" "$n")
    [ "$got" = "$(cat "$R.greedy.txt")" ] ||
      { echo "script greedy on $m.$p: '$got', shipped '$(cat "$R.greedy.txt")'"; exit 1; }
    echo "script = shipped reference on $m.$p (logits and $n greedy tokens)"
  done
  # and kvspill against the script where the shipped references are (the same model)
  R="$S/reference/tiny-f32.short"
  "$PY" "$NP" logits "$S/models/tiny-f32.gguf" "$R.tokens.txt" "$R.positions.txt" "$T/np.f32"
  agree "$S/models/tiny-f32.gguf" "$R.tokens.txt" "$R.positions.txt" "$T/np.f32" 32000 1e-4 f32
else
  echo "SKIP (part): $S/reference absent; the script is not proved on the shipped references"
fi

# 2. Generated Qwen models: a 300-token prompt (several 64-token blocks), logits at every
# 37th position and the last, F32 weights (1e-4, and 2e-3 with an F16 KV cache) and F16
# weights (5e-3); 16 greedy tokens equal.
"$PY" -c 'import random; r = random.Random(3); print(" ".join(str(r.randrange(600)) for _ in range(300)))' >"$T/tok"
seq 0 299 | awk 'NR % 37 == 0 || NR == 300' >"$T/pos"
for spec in "qwen2:f32:--tie-output" "qwen2:f16:" "qwen3:f32:--head-dim 32" "qwen3:f16:--head-dim 32 --tie-output"; do
  IFS=: read -r arch type extra <<<"$spec"
  M="$T/$arch-$type.gguf"
  # shellcheck disable=SC2086 # extra is a list of flags
  "$KVSPILL_BIN" model gen --arch "$arch" --type "$type" --seed 5 $extra --out "$M"
  "$KVSPILL_BIN" model info "$M" | grep -qx "architecture: $arch"
  vocab=$("$KVSPILL_BIN" model info "$M" | awk '/^vocab_size:/ {print $2}')
  "$PY" "$NP" logits "$M" "$T/tok" "$T/pos" "$T/np.f32"
  if [ "$type" = f32 ]; then
    agree "$M" "$T/tok" "$T/pos" "$T/np.f32" "$vocab" 1e-4 f32
    agree "$M" "$T/tok" "$T/pos" "$T/np.f32" "$vocab" 2e-3 f16
  else
    agree "$M" "$T/tok" "$T/pos" "$T/np.f32" "$vocab" 5e-3 f32
  fi
  greedy_is "$M" "$T/tok" 16 "$("$PY" "$NP" greedy "$M" "$T/tok" 16 stop)"
done

# A model missing what its architecture needs is refused, naming the tensor.
"$KVSPILL_BIN" model gen --arch llama --out "$T/llama.gguf"
"$PY" - "$T/llama.gguf" "$T/fake-qwen2.gguf" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
# Same-length renames: the architecture and its keys become qwen2's, the biases stay absent.
open(sys.argv[2], "wb").write(b.replace(b"llama", b"qwen2"))
PY
set +e
"$KVSPILL_BIN" generate --model "$T/fake-qwen2.gguf" --tokens-file "$T/tok" -n 1 2>"$T/err"; rc=$?
set -e
[ "$rc" != 0 ] && grep -q "tensor blk.0.attn_q.bias: missing" "$T/err" ||
  { echo "fake qwen2 without biases: rc $rc, $(cat "$T/err")"; exit 1; }
echo "$checks checks of kvspill against the NumPy forward pass passed"
echo PASS
