#!/bin/bash
# `kvspill serve --device cuda` with the LMCache connector on a gds_path directory, over real
# HTTP: outputs with the cache on equal outputs with it off (the same prompt again, a prompt
# ending inside a chunk, one on a chunk boundary); after a restart the gds tier serves the
# prompt with the same output; a CPU server on the same directory loads the GPU server's
# chunks and the GPU server loads the CPU server's (their KV bytes differ in rounding only,
# so the first token must agree and its logprob stay close). Skips without a CUDA device.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
[ -f "$S/models/tiny-f16.gguf" ] || { echo "SKIP: tiny-f16 not found (KVSPILL_SHARED_DIR)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

MODELS="$S/models" TMP="$TMP" python3 - <<'PY'
import json, os, random, re, signal, socket, subprocess, sys, time, urllib.request
BIN, MODELS, TMP = os.environ["KVSPILL_BIN"], os.environ["MODELS"], os.environ["TMP"]
CHUNK = 64
KVT = '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
CACHE = TMP + "/gds"
os.mkdir(CACHE)
servers = []

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Server:
    """One `kvspill serve`; offload on the shared gds_path directory unless cache is False.
    Prefix caching is off, so a repeated prompt is served by the offload tier."""
    def __init__(self, name, device, cache=True):
        self.name, self.port = name, free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        args = [BIN, "serve", "--model", MODELS + "/tiny-f16.gguf", "--host", "127.0.0.1",
                "--port", str(self.port), "--device", device, "--threads", "2",
                "--max-model-len", "2048", "--kv-cache-memory", "64M",
                "--no-enable-prefix-caching"]
        env = dict(os.environ)
        if cache:
            args += ["--kv-transfer-config", KVT, "--kv-offload-always-load"]
            env.update(LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU="false",
                       LMCACHE_GDS_PATH=CACHE, LMCACHE_MAX_GDS_SIZE="1",
                       LMCACHE_CUFILE_BUFFER_SIZE="64")
        self.log = open("%s/%s.log" % (TMP, name), "w+")
        self.p = subprocess.Popen(args, env=env, stderr=self.log)
        servers.append(self)
        for _ in range(600):
            try:
                if urllib.request.urlopen(self.url + "/health", timeout=5).status == 200:
                    return
            except OSError:
                pass
            if self.p.poll() is not None:
                text = self.text()
                if "no CUDA device" in text:
                    print("SKIP: " + text.strip().splitlines()[-1])
                    sys.exit(77)
                raise AssertionError(self.name + ": " + text)
            time.sleep(0.1)
        raise AssertionError(self.name + ": " + self.text())

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def complete(self, prompt):
        body = {"prompt": prompt, "max_tokens": 6, "temperature": 0, "logprobs": 0}
        req = urllib.request.Request(self.url + "/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            out = json.loads(r.read())
        ch = out["choices"][0]
        return ((ch["logprobs"]["tokens"], ch["logprobs"]["token_logprobs"], ch["text"]),
                out["usage"]["prompt_tokens_details"]["cached_tokens"])

    def metric(self, name, tier=None):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=30).read().decode()
        lab = r',tier="%s"' % tier if tier else ""
        m = re.search(r'^%s\{model_name="[^"]*"%s\} (\d+)$' % (name, lab), text, re.M)
        assert m, (name, tier)
        return int(m.group(1))

    def settle(self):
        for _ in range(600):
            if self.metric("kvspill_offload_write_queue_bytes") == 0:
                return
            time.sleep(0.05)
        raise AssertionError(self.name + ": stores never drained")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(timeout=60) == 0, self.text()
        servers.remove(self)

rng = random.Random(11)
def prompt(n):
    return [1] + [rng.randrange(3, 32000) for _ in range(n - 1)]

def same(a, b, what):
    """Same KV bytes: the same tokens, logprobs equal to float rounding."""
    assert a[0] == b[0] and a[2] == b[2], (what, a, b)
    assert all(abs(x - y) < 1e-4 for x, y in zip(a[1], b[1])), (what, a[1], b[1])

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
    for s in list(servers):
        s.stop()
    print("gpu offload: cache on equals cache off on the GPU; restart and CPU<->GPU sharing work")
finally:
    for s in servers:
        s.p.kill()
PY
