#!/usr/bin/env bash
# TTFT against prompt length, one line per case, from `kvspill bench ttft --json` output.
# usage: bench/plot_ttft.sh RESULT.json [OUT.png]   (needs gnuplot: apt-get install gnuplot-nox)
set -euo pipefail
IN=${1:?usage: plot_ttft.sh RESULT.json [OUT.png]}
OUT=${2:-$(dirname "$0")/ttft.png}
command -v gnuplot >/dev/null || { echo "plot_ttft.sh: gnuplot not installed" >&2; exit 2; }
DATA=$(mktemp)
trap 'rm -f "$DATA"' EXIT
# One gnuplot data block per case: "length ttft_ms", blocks separated by two blank lines.
python3 - "$IN" >"$DATA" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["lengths"]
for case in ["cold", "mem", "file", "restart", "process"]:
    print("# %s" % case)
    for r in rows:
        if r["case"] == case:
            print(r["length"], r["ttft_s"] * 1e3)
    print("\n")
PY
gnuplot <<GP
set terminal pngcairo size 900,560 font ",11"
set output "$OUT"
set title "kvspill: time to first token by prompt length"
set xlabel "prompt length (tokens)"
set ylabel "TTFT (ms, log scale)"
set logscale xy
set xtics (1024, 2048, 4096, 8192, 16384, 32768)
set grid
set key top left
plot for [i=0:4] "$DATA" index i using 1:2 with linespoints lw 2 pt 7 \
     title word("cold mem-tier file-tier restart second-process", i + 1)
GP
echo "wrote $OUT"
