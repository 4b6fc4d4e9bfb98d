#!/usr/bin/env bash
# Issue 6's check on a machine with an NVIDIA GPU, in one run of under 8 minutes: builds the
# CUDA backend, runs the GPU tests, and prints
#   - prefill and decode tokens/s of a TinyLlama-shaped F16 model, GPU against the CPU;
#   - GPUDirect Storage (or cuFile compat mode) read and write GB/s into GPU memory against
#     a plain read into pinned memory plus cudaMemcpy;
#   - TTFT cold and warm from the file tier for 8k and 32k-token prompts.
# Paste the summary at the end into bench/RESULTS.md with the date and the GPU model.
#
# usage: bench/gpu-check.sh [BUILD]        (default: build-gpu)
# environment:
#   KVSPILL_DEPS_DIR  .deb files from scripts/fetch-gpu-deps.sh, unpacked into a private
#                     prefix when the machine lacks the Debian -dev packages and a registry
#   GPU_CHECK_DIR     scratch directory for models and cache objects (default BUILD/gpu-check);
#                     put it on the file system to measure (an NFS-over-RDMA mount for GDS)
#   OUT               when set, the log is also written to $OUT/gpu-check.log
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
SCRATCH=${GPU_CHECK_DIR:-$BUILD/gpu-check}
mkdir -p "$BUILD" "$SCRATCH"
SCRATCH=$(cd "$SCRATCH" && pwd)
LOG=${OUT:-$BUILD}/gpu-check.log
exec > >(tee "$LOG") 2>&1
T0=$(date +%s)
step() { echo; echo "== [$(($(date +%s) - T0)) s] $*"; }
JOBS=$(nproc)

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
export PATH=$PATH:/usr/local/cuda/bin

cmake_extra=()
if [ -n "${KVSPILL_DEPS_DIR:-}" ]; then
  step "unpacking the build dependencies from $KVSPILL_DEPS_DIR"
  D=/tmp/kvspill-deps
  rm -rf "$D" && mkdir -p "$D"
  for f in "$KVSPILL_DEPS_DIR"/*.deb; do dpkg -x "$f" "$D"; done
  LIBDIR=$D/usr/lib/x86_64-linux-gnu
  # The .pc files name /usr: point them into the prefix. Requires.private (gnutls for
  # libmicrohttpd) matters only for static linking, and gnutls's own .pc is not carried.
  find "$D" -name '*.pc' -exec sed -i -e "s|=/usr|=$D/usr|" -e '/^Requires.private/d' {} +
  export PKG_CONFIG_PATH=$LIBDIR/pkgconfig:$D/usr/share/pkgconfig
  export CMAKE_PREFIX_PATH=$D/usr
  export CFLAGS="-I$D/usr/include -I$D/usr/include/x86_64-linux-gnu"
  export LDFLAGS="-L$LIBDIR -Wl,-rpath,$LIBDIR"
  export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=$PATH:$D/usr/bin # pkg-config, where the machine has none
  cmake_extra+=(-DOPENSSL_ROOT_DIR="$D/usr")
fi

# libcufile: the system's, the toolkit's, or the one in Python's nvidia-cufile package.
if [ -z "${KVSPILL_CUFILE_LIB:-}" ]; then
  for c in $(ldconfig -p | awk '/libcufile\.so\.0 /{print $NF}') /usr/local/cuda/lib64/libcufile.so.0 \
           $(python3 -c 'import nvidia.cufile, os; print(os.path.join(list(nvidia.cufile.__path__)[0], "lib", "libcufile.so.0"))' 2>/dev/null); do
    if [ -f "$c" ]; then export KVSPILL_CUFILE_LIB=$c; break; fi
  done
fi
echo "libcufile: ${KVSPILL_CUFILE_LIB:-not found (the gds tier will use its POSIX path)}"
export CUFILE_ENV_PATH_JSON=$PWD/deploy/cufile.json
# deploy/cufile.json turns compat mode off for production nodes; here it stays on, so that
# a machine without nvidia-fs still runs kvspill's cuFile code (in cuFile's compat mode).
export CUFILE_ALLOW_COMPAT_MODE=true
export CUFILE_LOGFILE_PATH=$PWD/$BUILD/cufile.log

step "build with the CUDA backend"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVSPILL_CUDA=ON "${cmake_extra[@]}" >/dev/null
cmake --build "$BUILD" -j "$JOBS" | tail -1
KV=$BUILD/kvspill

# Test failures are reported at the end; the benchmarks still run, so one device session
# gets every figure.
failed=()
step "GPU tests (ctest -L gpu: logits against the CPU and the references, transfers, XXH3,
   CPU and GPU nodes sharing a directory, cache on = cache off over HTTP)"
(cd "$BUILD" && ctest --output-on-failure -j 4 -L gpu) || failed+=("GPU tests")
step "every other test, on this machine (serve and the engine tests pick the GPU: --device auto)"
(cd "$BUILD" && ctest --output-on-failure -j 8 -LE 'gpu|emu') || failed+=("other tests")

MODEL=$SCRATCH/tinyllama-f16.gguf
step "TinyLlama-shaped F16 model (22 layers, dim 2048, 32/4 heads, ff 5632, ctx 33024)"
[ -f "$MODEL" ] || "$KV" model gen --out "$MODEL" --layers 22 --dim 2048 --heads 32 --kv-heads 4 \
  --ff 5632 --type f16 --ctx 33024

# Each benchmark writes its JSON; one that fails is reported and the others still run.
run_bench() { # NAME OUTFILE COMMAND...
  local name=$1 out=$2
  shift 2
  "$@" >"$SCRATCH/$out" || { failed+=("$name"); rm -f "$SCRATCH/$out"; }
}
step "engine: prefill 512 tokens, decode 128 (GPU), against the CPU on $JOBS threads"
run_bench "bench engine (GPU)" engine-gpu.json "$KV" bench engine --model "$MODEL" --device cuda \
  --prompt-tokens 512 --gen-tokens 128 --json
run_bench "bench engine (CPU)" engine-cpu.json "$KV" bench engine --model "$MODEL" --device cpu \
  --threads "$JOBS" --prompt-tokens 512 --gen-tokens 16 --json

step "gds: cuFile read and write into GPU memory against pread into pinned memory + cudaMemcpy"
rm -rf "$SCRATCH/gds" && mkdir -p "$SCRATCH/gds"
run_bench "bench gds" gds.json "$KV" bench gds --dir "$SCRATCH/gds" --chunks 64 --json
rm -rf "$SCRATCH/gds"

step "TTFT: cold against warm from the gds tier, 8k and 32k-token prompts"
run_bench "bench ttft" ttft.json "$KV" bench ttft --model "$MODEL" --device cuda --tier gds \
  --cache-dir "$SCRATCH/ttft" --lengths 8192,32768 --json
rm -rf "$SCRATCH/ttft"

step "summary ($(date -u +%F), $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
python3 - "$SCRATCH" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(n):
    p = os.path.join(d, n)
    return json.load(open(p)) if os.path.exists(p) else None
g, c = load("engine-gpu.json"), load("engine-cpu.json")
if g or c:
    print("| engine | prefill tok/s | decode tok/s |\n|---|---|---|")
    for r in (g, c):
        if r:
            print("| %s | %.0f | %.1f |" % (r["device"], r["prefill_tps"], r["decode_tps"]))
if g and c:
    print("GPU/CPU: prefill %.1fx, decode %.1fx" % (g["prefill_tps"] / c["prefill_tps"],
                                                    g["decode_tps"] / c["decode_tps"]))
s = load("gds.json")
if s:
    print("\ngds tier io path: %s" % s["io_path"])
    print("| into GPU memory | write GB/s | read GB/s |\n|---|---|---|")
    print("| gds tier | %.2f | %.2f |" % (s["gds_write_gbps"], s["gds_read_gbps"]))
    print("| pread/pwrite + pinned + cudaMemcpy | %.2f | %.2f |" % (s["raw_write_gbps"],
                                                                    s["raw_read_gbps"]))
    print("ratio tier/raw: write %.2f, read %.2f" % (s["write_ratio"], s["read_ratio"]))
t = load("ttft.json")
if t:
    print("\n| prompt | case | TTFT ms | ideal ms | ratio |\n|---|---|---|---|---|")
    for r in t["lengths"]:
        ideal = "%.1f | %.2f" % (r["ideal_s"] * 1e3, r["ratio"]) if r["ideal_s"] else "- | -"
        print("| %d | %s | %.1f | %s |" % (r["length"], r["case"], r["ttft_s"] * 1e3, ideal))
PY
echo "total: $(($(date +%s) - T0)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
