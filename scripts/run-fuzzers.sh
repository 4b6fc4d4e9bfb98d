#!/usr/bin/env bash
# Runs every libFuzzer harness of a -DKVSPILL_FUZZ=ON build for at most SECONDS each, or
# until RUNS executions when RUNS is given (`make fuzz-long`: the issue's 10^7), starting
# from its corpus in tests/fuzz/corpus/<name>; new inputs go to a scratch corpus, crashes to
# $BUILD/fuzz-artifacts/ (and make the script fail). PARALLEL harnesses run at once; each
# one's log is $BUILD/fuzz-logs/<name>.log; its "Done N runs in S second(s)" is printed.
# usage: scripts/run-fuzzers.sh BUILD [SECONDS] [RUNS] [PARALLEL]
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
runs=${3:-0}
parallel=${4:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
limit=(-max_total_time="$seconds")
[ "$runs" -gt 0 ] && limit+=(-runs="$runs")

run_one() {
  local fuzzer=$1 name work log
  name=$(basename "$fuzzer")
  work="$build/fuzz-corpus/$name"
  log="$build/fuzz-logs/$name.log"
  mkdir -p "$work"
  if "$fuzzer" "${limit[@]}" \
      -artifact_prefix="$build/fuzz-artifacts/$name-" "$work" "$src/tests/fuzz/corpus/$name" \
      >"$log" 2>&1; then
    echo "== $name: ok, $(grep -E '^Done [0-9]+ runs' "$log" | tail -1), no finding"
  else
    echo "== $name: FAILED (log: $log)"; tail -30 "$log"
    return 1
  fi
}

status=0 pids=()
for fuzzer in "$build"/tests/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || status=1; done
  run_one "$fuzzer" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
exit $status
