#!/usr/bin/env bash
# Runs every libFuzzer harness of a -DKVSPILL_FUZZ=ON build for N seconds, starting from
# its corpus in tests/fuzz/corpus/<name>; new inputs go to a scratch corpus, crashes to
# $BUILD/fuzz-artifacts/ (and make the script fail).
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz-artifacts"
status=0
for fuzzer in "$build"/tests/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work"
  echo "== $name: ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -artifact_prefix="$build/fuzz-artifacts/$name-" \
      "$work" "$src/tests/fuzz/corpus/$name"; then
    status=1
  fi
done
exit $status
