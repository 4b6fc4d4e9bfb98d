#!/bin/bash
# `kvspill serve --device cuda` with the LMCache connector on a gds_path directory, over real
# HTTP: outputs with the cache on equal outputs with it off (the same prompt again, a prompt
# ending inside a chunk, one on a chunk boundary); after a restart the gds tier serves the
# prompt with the same output; a CPU server on the same directory loads the GPU server's
# chunks and the GPU server loads the CPU server's (their KV bytes differ in rounding only,
# so the first token must agree and its logprob stay close). Skips without a CUDA device.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
[ -f "$S/models/tiny-f32.gguf" ] || { echo "SKIP: tiny-f32 not found (KVSPILL_SHARED_DIR)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

MODELS="$S/models" TMP="$TMP" python3 - <<'PY'
import os, random, sys
sys.path.insert(0, os.environ["KVSPILL_SOURCE_DIR"] + "/tests/support")
from kvspill_server import KV_TRANSFER, Server as Serve, ServerExited, same

MODELS, TMP = os.environ["MODELS"], os.environ["TMP"]
CHUNK = 64
CACHE = TMP + "/gds"
os.mkdir(CACHE)

def Server(name, device, cache=True):
    """Offload on the shared gds_path directory unless cache is False. Prefix caching is
    off, so a repeated prompt is served by the offload tier."""
    # F32 weights: cuBLAS picks its kernels (and so the order of its sums) by batch size, and
    # a prompt computed whole or after a load is split differently; in F32 that moves
    # logprobs by ~1e-6, where F16 activations turn it into ~1e-3 (docs/cuda.md).
    args = ["--model", MODELS + "/tiny-f32.gguf", "--device", device, "--threads", "2",
            "--max-model-len", "2048", "--kv-cache-memory", "64M",
            "--no-enable-prefix-caching"]
    env = {}
    if cache:
        args += ["--kv-transfer-config", KV_TRANSFER, "--kv-offload-always-load"]
        env = dict(LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU="false",
                   LMCACHE_GDS_PATH=CACHE, LMCACHE_MAX_GDS_SIZE="1",
                   LMCACHE_CUFILE_BUFFER_SIZE="64")
    try:
        return Serve(name, args, env, TMP)
    except ServerExited as e:
        if "no CUDA device" in str(e):
            print("SKIP: " + str(e).strip().splitlines()[-1])
            sys.exit(77)
        raise

rng = random.Random(11)
def prompt(n):
    return [1] + [rng.randrange(3, 32000) for _ in range(n - 1)]

def close(a, b, what):
    """KV computed on the other device: the first token agrees, its logprob nearly."""
    assert a[0][0] == b[0][0], (what, a, b)
    assert abs(a[1][0] - b[1][0]) < 0.05, (what, a[1], b[1])

try:
    ref = Server("ref", "cuda", cache=False)
    gpu = Server("gpu", "cuda")
    for line in gpu.text().splitlines():
        if line.startswith("kvspill: device") or line.startswith("kvspill: offload tier"):
            print(line)
    assert "kvspill: offload tier gds:" in gpu.text(), gpu.text()

    cases = [(10 * CHUNK + 37, "inside a chunk"), (8 * CHUNK, "on a boundary")]
    prompts = [(prompt(n), what) for n, what in cases]
    wants = []
    for p, what in prompts:
        want, c = ref.complete(p)
        wants.append(want)
        out, c = gpu.complete(p)
        assert c == 0, (what, c)
        same(out, want, what + ", computed with the cache on")
        gpu.settle()
        out, c = gpu.complete(p)
        assert c == min(len(p) // CHUNK * CHUNK, len(p) - 1), (what, c)
        same(out, want, what + ", loaded from the gds tier")
    gpu.stop()

    # A restarted GPU server finds the chunks in the directory.
    gpu2 = Server("gpu2", "cuda")
    for (p, what), want in zip(prompts, wants):
        out, c = gpu2.complete(p)
        assert c == min(len(p) // CHUNK * CHUNK, len(p) - 1), (what, c)
        same(out, want, what + ", after a restart")
    assert gpu2.metric("kvspill_offload_tier_hits_total", "gds") >= 18

    # A CPU node on the same directory loads the GPU's chunks, and the GPU node the CPU's.
    cpu = Server("cpu", "cpu")
    p, _ = prompts[0]
    out, c = cpu.complete(p)
    assert c == 10 * CHUNK, c
    close(out, wants[0], "GPU chunks on the CPU node")
    Q = prompt(6 * CHUNK + 5)
    want_q, _ = ref.complete(Q)
    out, c = cpu.complete(Q)
    assert c == 0, c
    cpu.settle()
    out, c = gpu2.complete(Q)
    assert c == 6 * CHUNK, c
    close(out, want_q, "CPU chunks on the GPU node")
    for s in list(Serve.running):
        s.stop()
    print("gpu offload: cache on equals cache off on the GPU; restart and CPU<->GPU sharing work")
finally:
    Serve.kill_all()
PY
