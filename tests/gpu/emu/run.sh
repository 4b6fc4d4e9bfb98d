#!/bin/bash
# The GPU tests (tests/gpu/test_gpu_*.c) on a machine without a GPU, against a CPU emulation
# of the device: the backend's kernels compiled by g++ (rewrite.py turns each <<<launch>>>
# into emu_launch, which checks the launch limits and runs a block's threads as coroutines
# meeting at __syncthreads and at the warp shuffles), its C files and the engine's gpu_ops.c
# as in a CUDA build, and the CUDA runtime and cublasGemmEx written over host memory
# (emu_rt.c: every copy checks which side of the device its pointers are on; the GEMM is the
# column-major definition of the cuBLAS documentation). Everything is built with
# AddressSanitizer, so a kernel reading or writing outside a buffer stops the test.
#
# What it checks: the kernels' index math and results, launch configurations, the host code's
# cuBLAS arguments, sizes and copies. What it cannot: timing, the ordering of the two
# streams (every call runs at once), the device's own expf/cos and cuBLAS's summation order.
# Slow (a coroutine per device thread): on 2 cores test_gpu_weight_types takes about 4
# minutes and test_gpu_reference (1016-token prompts) more than 40.
#
# usage: tests/gpu/emu/run.sh [test_gpu_NAME ...]   (default: kernels, xxh3, kv_transfer,
#        mixed_batch, weight_types; add test_gpu_reference with KVSPILL_SHARED_DIR set, and
#        test_gpu_gds_share, with KVSPILL_CUFILE_LIB=BUILD/tests/libfake_cufile.so for its
#        device-memory path)
# environment: EMU_BUILD (default build-gpu-emu), CUDA_HOME (default /usr/local/cuda: the
#        toolkit's headers only; nothing of it runs), EMU_GEMM_ORDER_BY_N=1 (the GEMM sums
#        backwards when the batch has an even number of columns, as cuBLAS may change its
#        kernel and summation order with the shape: a test that compares batch sizes must
#        still pass)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
EMU=$ROOT/tests/gpu/emu
OUT=${EMU_BUILD:-$ROOT/build-gpu-emu}
CUDA=${CUDA_HOME:-/usr/local/cuda}
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(test_gpu_kernels test_gpu_xxh3 test_gpu_kv_transfer
                                 test_gpu_mixed_batch test_gpu_weight_types)

# The rest of the project as a CPU-only build.
cmake -S "$ROOT" -B "$OUT/cpu" -G Ninja -DKVSPILL_CUDA=OFF >/dev/null
cmake --build "$OUT/cpu" -j "$(nproc)" --target kvspill_model kvspill_tools kvspill kvspill_engine \
  kvspill_server >/dev/null

SAN="-O1 -g -fsanitize=address -fno-omit-frame-pointer"
CF="$SAN -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DKVSPILL_HAVE_CUDA=1 -I$ROOT/src \
  -I$ROOT/include -I$ROOT/tests/support -I$CUDA/include -w"
CXXF="$SAN -std=c++17 -I$EMU -I$ROOT/src -I$CUDA/include -w"
O=$OUT/obj
mkdir -p "$O"
objs=()
# The library's one kernel (the device XXH3) too. The files outside the cuda folders that
# test KVSPILL_HAVE_CUDA are compiled below as in a CUDA build: the CPU-only libraries hold
# their no-CUDA versions, which the objects named first on the link replace.
for f in "$ROOT"/src/model/cuda/*.cu "$ROOT"/src/cache/cuda/*.cu; do
  n=$(basename "$f" .cu)
  python3 "$EMU/rewrite.py" "$f" >"$O/$n.cpp"
  g++ $CXXF -c "$O/$n.cpp" -o "$O/$n.o"
  objs+=("$O/$n.o")
done
for f in "$ROOT"/src/model/cuda/*.c; do
  n=cuda_host_$(basename "$f" .c)
  gcc $CF -c "$f" -o "$O/$n.o"
  objs+=("$O/$n.o")
done
g++ $CXXF -c "$EMU/emu_sched.cpp" -o "$O/emu_sched.o"
gcc $CF -c "$EMU/emu_rt.c" -o "$O/emu_rt.o"
gcc $CF -c "$ROOT/src/engine/gpu_ops.c" -o "$O/gpu_ops.o"
gcc $CF -c "$ROOT/tests/support/testutil.c" -o "$O/testutil.o"
objs+=("$O/emu_sched.o" "$O/emu_rt.o" "$O/gpu_ops.o" "$O/testutil.o")
for f in $(grep -rl --include='*.c' KVSPILL_HAVE_CUDA "$ROOT/src" | grep -v '/cuda/'); do
  n=with_cuda_$(basename "$f" .c)
  gcc $CF -c "$f" -o "$O/$n.o"
  objs+=("$O/$n.o")
done
B=$OUT/cpu
LIBS=("$B/src/server/libkvspill_server.a" "$B/src/engine/libkvspill_engine.a"
      "$B/src/cache/libkvspill.a" "$B/src/tools/libkvspill_tools.a"
      "$B/src/model/libkvspill_model.a" -lcmocka -lxxhash -luring
      -lyaml -lhiredis -ldl -lcrypto -lutf8proc -lm -lmicrohttpd -ljansson -lpthread)

failed=()
for t in "${TESTS[@]}"; do
  gcc $CF -c "$ROOT/tests/gpu/$t.c" -o "$O/$t.o"
  g++ -fsanitize=address -o "$OUT/$t" "$O/$t.o" "${objs[@]}" "${LIBS[@]}"
  echo "== $t (CPU emulation of the device)"
  # Leaks are not this harness's question; ASan warns once that coroutines are new to it.
  if ! (cd "$OUT" && ASAN_OPTIONS=detect_leaks=0 "./$t" 2>&1 |
        grep -vE '^==[0-9]+==WARNING: ASan|^False positive|^For details see'); then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
