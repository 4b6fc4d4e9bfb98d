#!/bin/bash
# `kvspill router` in front of real `kvspill serve` replicas on loopback ports: answers equal
# direct ones at temperature 0 (streamed and not), roundrobin spread, session stickiness,
# prefixaware affinity, keep-alive connections to the replicas reused, API key, aggregated
# /v1/models, /health 503 with every backend down,
# SIGKILL of a replica: requests still succeed, it leaves the set within 2 s and rejoins;
# --backends-dns names resolved to replicas, and a name with no address yet; kvaware routing
# to the replica whose host RAM holds the prompt, and its probe's prefill queue, measured
# rates and time-to-first-token estimate.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
. "$(dirname "$0")/../support/processes.sh"
start_serve() { # port name
  "$KVSPILL_BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$1" --api-key sekret \
    --max-model-len 512 --threads 1 --served-model-name "$2" >>"$DIR/serve-$1.log" 2>&1 &
  PIDS+=($!)
}
P1=$(free_port); P2=$(free_port); P3=$(free_port)
start_serve $P1 tiny; start_serve $P2 tiny; start_serve $P3 tiny-b
S1=${PIDS[0]}
i=0; for p in $P1 $P2 $P3; do wait_up "http://127.0.0.1:$p" "${PIDS[$i]}" "$DIR/serve-$p.log"; i=$((i+1)); done
BACKENDS="http://127.0.0.1:$P1,http://127.0.0.1:$P2,http://127.0.0.1:$P3"
start_router() { # port logic [extra flags]
  local port=$1 logic=$2; shift 2
  "$KVSPILL_BIN" router --backends "$BACKENDS" --host 127.0.0.1 --port "$port" \
    --routing-logic "$logic" --api-key sekret --health-interval-ms 300 "$@" \
    >>"$DIR/router-$port.log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  wait_up "http://127.0.0.1:$port" $pid "$DIR/router-$port.log"
}
RR=$(free_port); SE=$(free_port); PA=$(free_port)
start_router $RR roundrobin
start_router $SE session --session-key x-user
start_router $PA prefixaware --prefix-block-chars 16 --prefix-blocks 2 --max-load-ratio 100
"$KVSPILL_BIN" router --backends x 2>"$DIR/err" && { echo "bad --backends accepted"; exit 1; }
grep -q "^kvspill router: --backends: backend 'x': not an http://host:port URL$" "$DIR/err" ||
  { cat "$DIR/err"; exit 1; }
"$KVSPILL_BIN" router --backends http://a:1 --routing-logic session 2>"$DIR/err" && exit 1
grep -q "session-key" "$DIR/err"

RR=$RR SE=$SE PA=$PA P1=$P1 P2=$P2 P3=$P3 S1=$S1 MODEL="$MODEL" KVSPILL_BIN="$KVSPILL_BIN" \
  DIR="$DIR" python3 - <<'PY'
import json, os, re, signal, subprocess, time, urllib.request, urllib.error
KEY = {"Authorization": "Bearer sekret"}
def url(p): return "http://127.0.0.1:%s" % p
def call(base, method, path, body=None, headers=KEY):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
def ok(base, path, body=None, headers=KEY):
    st, txt = call(base, "POST" if body is not None else "GET", path, body, headers)
    assert st == 200, (base, path, st, txt)
    return txt
RR, SE, PA = url(os.environ["RR"]), url(os.environ["SE"]), url(os.environ["PA"])
B = [url(os.environ[k]) for k in ("P1", "P2", "P3")]
def counts(base):
    m = ok(base, "/metrics")
    return {b: int(re.search(r'kvspill_router_requests_total\{backend="%s"\} (\d+)' % re.escape(b), m).group(1)) for b in B}
def sse_text(txt):
    out = []
    for line in txt.split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            ch = json.loads(line[6:])["choices"][0]
            out.append(ch.get("text") or ch.get("delta", {}).get("content") or "")
    assert txt.rstrip().endswith("data: [DONE]"), txt
    return "".join(out)

# API key: checked by the router; /health is open.
assert call(RR, "GET", "/health", headers={})[0] == 200
for path, body in (("/v1/models", None), ("/v1/completions", {"prompt": "x"}), ("/metrics", None)):
    st, txt = call(RR, "POST" if body else "GET", path, body, headers={})
    assert st == 401 and json.loads(txt)["error"]["code"] == "invalid_api_key", (path, st, txt)

# /v1/models: the union, each model once.
ids = sorted(m["id"] for m in json.loads(ok(RR, "/v1/models"))["data"])
assert ids == ["tiny", "tiny-b"], ids

# Answers through the router equal direct ones (greedy), whole and streamed.
comp = {"prompt": "Hello world", "max_tokens": 6, "temperature": 0}
chat = {"messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 6, "temperature": 0}
for path, body in (("/v1/completions", comp), ("/v1/chat/completions", chat)):
    direct = json.loads(ok(B[0], path, body))
    for _ in range(3):
        got = json.loads(ok(RR, path, body))
        assert got["choices"] == direct["choices"], (got, direct)  # cached_tokens may differ
    sbody = dict(body, stream=True)
    want = sse_text(ok(B[0], path, sbody))
    for _ in range(3):
        assert sse_text(ok(RR, path, sbody)) == want, path
tok = json.loads(ok(RR, "/tokenize", {"prompt": "Hello"}))
assert tok["tokens"], tok
# /v1/embeddings reaches a replica, whose refusal (no model here can embed) comes back.
st, txt = call(RR, "POST", "/v1/embeddings", {"model": "tiny", "input": "Hello"})
assert st == 400 and "Embeddings API" in json.loads(txt)["error"]["message"], (st, txt)

# Roundrobin spreads requests evenly.
c0 = counts(RR)
for _ in range(9):
    ok(RR, "/v1/completions", {"prompt": "a", "max_tokens": 1})
c1 = counts(RR)
assert all(c1[b] - c0[b] == 3 for b in B), (c0, c1)

# Keep-alive to the replicas: the router's sequential requests, whole and streamed, reuse
# each backend's pooled connection instead of opening one per request.
m = ok(RR, "/metrics")
for b in B:
    conn, reused = (int(re.search(r'%s\{backend="%s"\} (\d+)' % (n, re.escape(b)), m).group(1))
                    for n in ("upstream_connects_total", "upstream_reused_total"))
    assert conn <= 3 and reused >= 4, (b, conn, reused)

# Session: one user sticks to one backend (header or body field); users spread.
def which(base, path, body, headers=KEY):
    c0 = counts(base)
    ok(base, path, body, headers)
    c1 = counts(base)
    moved = [b for b in B if c1[b] != c0[b]]
    assert len(moved) == 1, (c0, c1)
    return moved[0]
seen = set()
for u in range(8):
    h = dict(KEY, **{"x-user": "user-%d" % u})
    first = which(SE, "/v1/completions", {"prompt": "a", "max_tokens": 1}, h)
    for _ in range(2):
        assert which(SE, "/v1/completions", {"prompt": "b", "max_tokens": 1}, h) == first
    assert which(SE, "/v1/completions", {"prompt": "c", "max_tokens": 1, "x-user": "user-%d" % u}) == first
    seen.add(first)
assert len(seen) >= 2, seen

# Prefixaware: the same prefix goes to the same backend, whatever follows it.
seen = set()
for p in range(8):
    prefix = "system prompt number %d: be brief. " % p
    first = which(PA, "/v1/completions", {"prompt": prefix + "q1", "max_tokens": 1})
    assert which(PA, "/v1/completions", {"prompt": prefix + "another question", "max_tokens": 1}) == first
    msgs = [{"role": "system", "content": prefix}, {"role": "user", "content": "x"}]
    cf = which(PA, "/v1/chat/completions", {"messages": msgs, "max_tokens": 1})
    msgs[1]["content"] = "something else"
    assert which(PA, "/v1/chat/completions", {"messages": msgs, "max_tokens": 1}) == cf
    seen.add(first)
assert len(seen) >= 2, seen
m = ok(PA, "/metrics")
assert re.search(r'routing_decisions_total\{logic="prefixaware"\} [1-9]', m), m

# SIGKILL a replica mid-run: requests still succeed, it leaves the set within 2 s.
os.kill(int(os.environ["S1"]), signal.SIGKILL)
t0 = time.time()
for _ in range(6):
    ok(RR, "/v1/completions", {"prompt": "a", "max_tokens": 1})
def healthy(base, b):
    return re.search(r'backend_healthy\{backend="%s"\} (\d)' % re.escape(b), ok(base, "/metrics")).group(1) == "1"
while healthy(RR, B[0]):
    assert time.time() - t0 < 2, "dead replica still in the set after 2 s"
    time.sleep(0.05)
# The dashboard's stats: one row per replica, the dead one down and without stats, the
# others with their own; the shares are the routed requests' (as /metrics counts them).
st = json.loads(ok(RR, "/v1/kvspill/stats"))
rows = {b["url"]: b for b in st["backends"]}
assert st["router"] is True and st["routing_logic"] == "roundrobin" and sorted(rows) == sorted(B), st
assert not rows[B[0]]["healthy"] and "stats" not in rows[B[0]], rows[B[0]]
n = counts(RR)
for b in B[1:]:
    assert rows[b]["healthy"] and rows[b]["stats"]["model"] in ("tiny", "tiny-b"), rows[b]
    assert rows[b]["stats"]["requests"]["total"] > 0, rows[b]
    assert abs(rows[b]["share"] - n[b] / sum(n.values())) < 0.05, (rows[b], n)
assert abs(sum(r["share"] for r in rows.values()) - 1) < 1e-6, rows
assert call(RR, "GET", "/v1/kvspill/stats", headers={})[0] == 401
# A replica restarted on the same port rejoins.
log = open(os.path.join(os.environ["DIR"], "restart.log"), "w")
p = subprocess.Popen([os.environ["KVSPILL_BIN"], "serve", "--model", os.environ["MODEL"], "--host",
                      "127.0.0.1", "--port", os.environ["P1"], "--api-key", "sekret", "--max-model-len",
                      "512", "--threads", "1", "--served-model-name", "tiny"], stderr=log)
try:
    t0 = time.time()
    while not healthy(RR, B[0]):
        assert time.time() - t0 < 30, "restarted replica did not rejoin"
        time.sleep(0.1)
    c0 = counts(RR)
    for _ in range(6):
        ok(RR, "/v1/completions", {"prompt": "a", "max_tokens": 1})
    assert counts(RR)[B[0]] > c0[B[0]]
finally:
    p.kill()
    p.wait()
print("router: ok")
PY

# --backends-dns: the replicas as a name's addresses (localhost: 127.0.0.1, perhaps ::1,
# where nothing listens), re-resolved; both names' replicas serve, round-robin.
DNS=$(free_port)
"$KVSPILL_BIN" router --backends-dns "localhost:$P2" --backends-dns "127.0.0.1:$P3" \
  --dns-interval-ms 200 --host 127.0.0.1 --port "$DNS" --api-key sekret \
  --health-interval-ms 300 >>"$DIR/router-dns.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$DNS" $! "$DIR/router-dns.log"
for _ in 1 2 3 4; do
  curl -sf -H 'Authorization: Bearer sekret' -H 'Content-Type: application/json' \
    -d '{"prompt":"a","max_tokens":1}' "http://127.0.0.1:$DNS/v1/completions" >/dev/null ||
    { echo "completion through --backends-dns failed"; cat "$DIR/router-dns.log"; exit 1; }
done
curl -sf -H 'Authorization: Bearer sekret' "http://127.0.0.1:$DNS/metrics" >"$DIR/dns-metrics"
for p in $P2 $P3; do
  grep -q "kvspill_router_backend_healthy{backend=\"http://127.0.0.1:$p\"} 1" "$DIR/dns-metrics" &&
    grep -Eq "kvspill_router_requests_total\{backend=\"http://127.0.0.1:$p\"\} [1-9]" "$DIR/dns-metrics" ||
    { echo "backend 127.0.0.1:$p from DNS not used"; cat "$DIR/dns-metrics"; exit 1; }
done
grep -q 'found in DNS' "$DIR/router-dns.log"
# A name with no address yet (a headless Service before its first pod is ready): the router
# starts, says why, and is not healthy.
NX=$(free_port)
"$KVSPILL_BIN" router --backends-dns "no-such-replica.invalid:8000" --host 127.0.0.1 \
  --port "$NX" >>"$DIR/router-nx.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NX/health" || true)
  [ "$code" = 503 ] && break
  sleep 0.1
done
[ "$code" = 503 ] && grep -q 'resolve no-such-replica.invalid' "$DIR/router-nx.log" ||
  { echo "router on an unresolvable name: health $code"; cat "$DIR/router-nx.log"; exit 1; }
echo "router --backends-dns: ok"

# kvaware: two replicas with their own host-RAM tier and prefix cache; each prompt is first
# sent to one of them directly, then through the router, which must send it where its
# chunks are (by prefix hashing alone, all four would land right with probability 1/16).
K1=$(free_port); K2=$(free_port); KV=$(free_port)
for p in $K1 $K2; do
  LMCACHE_CHUNK_SIZE=16 LMCACHE_LOCAL_CPU=True LMCACHE_MAX_LOCAL_CPU_SIZE=0.05 \
    "$KVSPILL_BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$p" --api-key sekret \
    --max-model-len 512 --threads 1 --served-model-name tiny --enable-prefix-caching \
    --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}' \
    >>"$DIR/serve-$p.log" 2>&1 &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$p" $! "$DIR/serve-$p.log"
done
"$KVSPILL_BIN" router --backends "http://127.0.0.1:$K1,http://127.0.0.1:$K2" --host 127.0.0.1 \
  --port "$KV" --routing-logic kvaware --api-key sekret --health-interval-ms 300 \
  >>"$DIR/router-kv.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$KV" $! "$DIR/router-kv.log"
K1=$K1 K2=$K2 KV=$KV python3 - <<'PY'
import json, os, re, urllib.request
H = {"Authorization": "Bearer sekret", "Content-Type": "application/json"}
def post(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), json.dumps(body).encode(), H)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())
def routed(port):
    req = urllib.request.Request("http://127.0.0.1:%s/metrics" % os.environ["KV"], headers=H)
    m = urllib.request.urlopen(req, timeout=10).read().decode()
    return int(re.search(r'requests_total\{backend="http://127.0.0.1:%s"\} (\d+)' % port, m).group(1))
reps = [os.environ["K1"], os.environ["K2"]]
def estimate_holds(look):
    """The fields a replica reports for kvaware, and its estimate made of them
    (docs/router.md): (queued + the prompt's tokens neither its prefix cache nor a tier
    holds + the decode tokens of the steps that takes) / rate, RAM loads free."""
    for k in ("prefill_queued_tokens", "decode_running", "running", "waiting", "resident_tokens"):
        assert isinstance(look[k], int) and look[k] >= 0, (k, look)
    assert look["prefill_tokens_per_s"] > 0 and look["load_bytes_per_s"]["mem"] > 0, look
    assert look["resident_tokens"] % 16 == 0 and look["resident_tokens"] < look["prompt_tokens"], look
    held = max(look["resident_tokens"], sum(look["cached_tokens"].values()))
    prefill = look["prefill_queued_tokens"] + look["prompt_tokens"] - held
    d = look["decode_running"]  # a token of each in every step of 2048 (the default)
    steps = max(1, -(-prefill // max(1, 2048 - d)))
    want = (prefill + steps * d) / look["prefill_tokens_per_s"]
    assert abs(look["estimated_ttft_s"] - want) <= 1e-9 + 1e-6 * want, (want, look)
cold = {"prompt": "nobody has sent this prompt yet " * 4, "max_tokens": 1}
look = post(reps[1], "/kvspill/lookup", cold)
# before any prefill step: the documented default rate, said to be one
assert look["prefill_rate_measured"] is False and look["prefill_tokens_per_s"] == 1000, look
estimate_holds(look)
for i in range(4):
    body = {"prompt": ("conversation %d: " % i) + "the blocks go to the replica that holds them " * 6,
            "max_tokens": 2, "temperature": 0}
    home = reps[i % 2]
    post(home, "/v1/completions", body)
    look = post(home, "/kvspill/lookup", body)
    assert look["cached_tokens"]["mem"] >= 48, look
    before = [routed(p) for p in reps]
    post(os.environ["KV"], "/v1/completions", body)
    after = [routed(p) for p in reps]
    assert after[i % 2] == before[i % 2] + 1, (i, before, after, look)
# after a few requests, idle: a measured rate, nothing queued, the estimate of a held
# prompt below that of a cold one (which is all of its tokens at that rate)
for p in reps:
    held, fresh = post(p, "/kvspill/lookup", body), post(p, "/kvspill/lookup", cold)
    for look in (held, fresh):
        assert look["prefill_rate_measured"] is True, look
        assert look["prefill_queued_tokens"] == 0 and look["decode_running"] == 0, look
        estimate_holds(look)
    assert fresh["cached_tokens"]["mem"] == 0 and fresh["resident_tokens"] == 0, fresh
    if p == reps[1]:  # the last prompt's home: in RAM and still in its paged KV cache
        assert held["cached_tokens"]["mem"] >= 48 and held["resident_tokens"] >= 48, held
        assert 0 < held["estimated_ttft_s"] < fresh["estimated_ttft_s"], (held, fresh)
print("kvaware: 4 of 4 prompts routed to the replica holding them; probes' estimates hold")
PY
grep -q 'kvaware' "$DIR/router-kv.log"

# Every backend down: /health 503 with a JSON error, requests 503.
for p in "${PIDS[@]:1:2}"; do kill -9 "$p"; done
for _ in $(seq 50); do
  code=$(curl -s -o "$DIR/h" -w '%{http_code}' "http://127.0.0.1:$RR/health")
  [ "$code" = 503 ] && break
  sleep 0.1
done
[ "$code" = 503 ] && grep -q '"error"' "$DIR/h" || { echo "health $code"; cat "$DIR/h"; exit 1; }
code=$(curl -s -o "$DIR/c" -w '%{http_code}' -H 'Authorization: Bearer sekret' \
  -d '{"prompt":"a"}' "http://127.0.0.1:$RR/v1/completions")
[ "$code" = 503 ] || [ "$code" = 502 ] || { echo "completion $code"; cat "$DIR/c"; exit 1; }
echo "test_router: ok"
