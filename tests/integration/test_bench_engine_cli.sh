#!/usr/bin/env bash
# kvspill bench engine --json on small generated models, a float and a quantized one and
# with each kernel set this CPU runs: the figures and the baselines measured in the same
# run are there and positive, the peak is the one of the weight type's arithmetic, and the
# fractions are the figures over their baselines.
set -u
BIN=${KVSPILL_BIN:?KVSPILL_BIN not set}
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-bench-engine-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fails=0
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

for t in f16 q8_0; do
    "$BIN" model gen --out "$DIR/$t.gguf" --layers 2 --dim 128 --heads 4 --kv-heads 2 --ff 256 \
        --type $t --seed 5 || fail "gen $t"
done
sets=scalar
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && sets="scalar avx2"
for t in f16 q8_0; do
    for k in $sets; do
        if ! "$BIN" bench engine --model "$DIR/$t.gguf" --prompt-tokens 16 --gen-tokens 4 \
            --threads 2 --kernels $k --json > "$DIR/out.json"; then
            fail "bench engine $t $k"; continue
        fi
        want_peak=$([ $t = f16 ] && echo fma_f32 || echo dot_q8)
        if python3 - "$DIR/out.json" "$k" "$want_peak" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
bad = [k for k in ("prefill_tps", "decode_tps", "decode_bytes", "read_gbs",
                   "decode_roofline_tps", "decode_fraction", "prefill_gflops",
                   "peak_gflops", "prefill_fraction") if not j.get(k, 0) > 0]
if bad:
    sys.exit(f"missing or not positive: {bad}")
if j["baseline_isa"] != sys.argv[2] or j["peak_kind"] != sys.argv[3]:
    sys.exit(f"baselines {j['baseline_isa']} {j['peak_kind']}, want {sys.argv[2]} {sys.argv[3]}")
roof = j["read_gbs"] * 1e9 / j["decode_bytes"]
if abs(j["decode_roofline_tps"] / roof - 1) > 0.01:
    sys.exit(f"roofline {j['decode_roofline_tps']} is not read_gbs / decode_bytes = {roof}")
for frac, num, den in (("decode_fraction", "decode_tps", "decode_roofline_tps"),
                       ("prefill_fraction", "prefill_gflops", "peak_gflops")):
    if abs(j[frac] / (j[num] / j[den]) - 1) > 0.03:  # of figures printed to 2-3 digits
        sys.exit(f"{frac} {j[frac]} is not {num} / {den} = {j[num] / j[den]}")
PY
        then echo "ok: bench engine $t $k"; else fail "bench engine $t $k json"; fi
    done
done
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
