#!/bin/bash
# `kvspill model logits` writes the reference file format: compare against the stored
# logits of tiny-f32 (F32 KV, tolerance 1e-4) and tiny-q8_0 (6e-2) on the short prompt.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
[ -d "$S" ] || { echo "SKIP: reference data not found (KVSPILL_SHARED_DIR)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for spec in tiny-f32:f32:1e-4 tiny-q8_0:f16:6e-2; do
  IFS=: read -r m kv tol <<<"$spec"
  R="$S/reference/$m.short"
  "$KVSPILL_BIN" model logits --model "$S/models/$m.gguf" --tokens-file "$R.tokens.txt" \
    --positions-file "$R.positions.txt" --out "$T/$m.f32" --kv "$kv" --threads 2
  python3 - "$T/$m.f32" "$R.logits.f32" "$tol" <<'PY'
import array, math, sys
a, b = array.array('f'), array.array('f')
a.frombytes(open(sys.argv[1], 'rb').read()); b.frombytes(open(sys.argv[2], 'rb').read())
assert len(a) == len(b), f"{len(a)} floats, expected {len(b)}"
V = 32000; worst = 0.0
for r in range(len(b) // V):
    num = sum((a[i] - b[i]) ** 2 for i in range(r * V, (r + 1) * V))
    den = sum(b[i] ** 2 for i in range(r * V, (r + 1) * V))
    worst = max(worst, math.sqrt(num / den))
print(f"{sys.argv[1]}: worst rel L2 {worst:.3g} (tol {sys.argv[3]})")
sys.exit(0 if worst <= float(sys.argv[3]) else 1)
PY
done
# Usage errors exit 2 and say why.
set +e
"$KVSPILL_BIN" model logits --model "$S/models/tiny-f32.gguf" 2>"$T/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q usage "$T/err"
echo "$(printf '1 2 3')" >"$T/tok"; echo 7 >"$T/pos"
set +e
"$KVSPILL_BIN" model logits --model "$S/models/tiny-f32.gguf" --tokens-file "$T/tok" \
  --positions-file "$T/pos" --out "$T/o" 2>"$T/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "position 7 outside the 3 tokens" "$T/err"
echo PASS
