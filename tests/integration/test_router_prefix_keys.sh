#!/bin/bash
# prefixaware on the cache's chain keys (`kvspill router --model`): two replicas with a
# host-RAM and a file tier each (chunks of 16 tokens). The router learns their keying from
# GET /kvspill/keying; the key it routes a completion on is the name of a chunk object the
# chosen replica then writes (and the other does not); a chat's later turn goes where its
# first turn went and finds its prefix in that replica's host RAM; users sharing only a
# long system prompt spread over both replicas; a cache_salt changes the key. Without
# --model the router says at startup that it hashes characters.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
. "$(dirname "$0")/../support/processes.sh"
K1=$(free_port); K2=$(free_port); RK=$(free_port); RC=$(free_port)
for p in $K1 $K2; do
  mkdir -p "$DIR/disk-$p"
  LMCACHE_CHUNK_SIZE=16 LMCACHE_LOCAL_CPU=True LMCACHE_MAX_LOCAL_CPU_SIZE=0.05 \
    LMCACHE_LOCAL_DISK="file://$DIR/disk-$p" LMCACHE_MAX_LOCAL_DISK_SIZE=0.1 \
    "$KVSPILL_BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$p" --api-key sekret \
    --max-model-len 1024 --threads 1 --served-model-name tiny --no-enable-prefix-caching \
    --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}' \
    >>"$DIR/serve-$p.log" 2>&1 &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$p" $! "$DIR/serve-$p.log"
done
BACKENDS="http://127.0.0.1:$K1,http://127.0.0.1:$K2"
"$KVSPILL_BIN" router --backends "$BACKENDS" --host 127.0.0.1 --port "$RK" \
  --routing-logic prefixaware --model "$MODEL" --prefix-blocks 3 --max-load-ratio 100 \
  --api-key sekret --health-interval-ms 1000 >>"$DIR/router.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$RK" $! "$DIR/router.log"
"$KVSPILL_BIN" router --backends "$BACKENDS" --host 127.0.0.1 --port "$RC" \
  --routing-logic prefixaware --api-key sekret >>"$DIR/router-chars.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$RC" $! "$DIR/router-chars.log"
# serve's keying answer: behind the API key, and it names the namespace it describes.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$K1/kvspill/keying")" = 401 ]
curl -sf -H 'Authorization: Bearer sekret' "http://127.0.0.1:$K1/kvspill/keying" >"$DIR/keying"
grep -q '"chunk_tokens": *16' "$DIR/keying" && grep -q '"namespace_id"' "$DIR/keying" ||
  { echo "keying: $(cat "$DIR/keying")"; exit 1; }
# A --model that is no GGUF: refused, naming the file.
"$KVSPILL_BIN" router --backends "$BACKENDS" --routing-logic prefixaware \
  --model "$DIR/keying" 2>"$DIR/err" && { echo "bad --model accepted"; exit 1; }
grep -q "^kvspill router: --model: $DIR/keying: " "$DIR/err" || { cat "$DIR/err"; exit 1; }
grep -q "prefixaware without --model: hashing the prompt's characters" "$DIR/router-chars.log"
for _ in $(seq 50); do grep -q "chunk keys as" "$DIR/router.log" && break; sleep 0.1; done
grep -q "chunk keys as" "$DIR/router.log" || { cat "$DIR/router.log"; exit 1; }

K1=$K1 K2=$K2 RK=$RK DIR="$DIR" /usr/bin/python3 - <<'PY'
import glob, json, os, time, urllib.request
H = {"Authorization": "Bearer sekret", "Content-Type": "application/json"}
reps = {"http://127.0.0.1:%s" % os.environ[k]: os.environ[k] for k in ("K1", "K2")}
ROUTER = "http://127.0.0.1:%s" % os.environ["RK"]
def post(base, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), H)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())
def held(base, body):
    return post(base, "/kvspill/lookup", body)["cached_tokens"].get("mem", 0)
def objects(port, key):
    return glob.glob(os.path.join(os.environ["DIR"], "disk-%s" % port, "**", key + ".kvc"),
                     recursive=True)

# Completions: the key is the deepest full chunk of the first 3, and the chosen replica
# stores an object of that very name.
for i in range(4):
    body = {"prompt": ("document %d: " % i) + "words that fill several chunks of tokens " * 8,
            "max_tokens": 1, "temperature": 0}
    why = post(ROUTER, "/kvspill/route/v1/completions", body)
    assert why["key_chunks"] == 3 and len(why["key"]) == 64, why
    post(ROUTER, "/v1/completions", body)
    home = why["backend"]
    other = [b for b in reps if b != home][0]
    t0 = time.time()
    while not objects(reps[home], why["key"]):
        assert time.time() - t0 < 10, ("no object named by the router's key", why)
        time.sleep(0.1)
    assert not objects(reps[other], why["key"]), why
    salted = post(ROUTER, "/kvspill/route/v1/completions", dict(body, cache_salt="tenant-b"))
    assert salted["key"] != why["key"], salted

# Chat: a long shared system prompt; each user's second turn goes where the first went and
# finds the conversation's prefix there; users spread over both replicas.
system = {"role": "system", "content": "You are a terse assistant. " * 12}
homes = set()
for u in range(8):
    turn1 = [system, {"role": "user", "content": "user %d asks about topic %d" % (u, u * 7)}]
    b1 = {"messages": turn1, "max_tokens": 4, "temperature": 0}
    first = post(ROUTER, "/kvspill/route/v1/chat/completions", b1)
    home = first["backend"]
    answer = post(ROUTER, "/v1/chat/completions", b1)["choices"][0]["message"]["content"]
    turn2 = turn1 + [{"role": "assistant", "content": answer},
                     {"role": "user", "content": "and a follow-up question from user %d" % u}]
    b2 = {"messages": turn2, "max_tokens": 4, "temperature": 0}
    why = post(ROUTER, "/kvspill/route/v1/chat/completions", b2)
    assert why["key"] == first["key"] and why["key_chunks"] >= 1, (u, first, why)
    assert why["backend"] == home, (u, first, why)
    other = [b for b in reps if b != home][0]
    assert held(home, b2) > held(other, b2), (u, held(home, b2), held(other, b2))
    homes.add(home)
assert len(homes) == 2, homes
print("prefixaware on chunk keys: ok")
PY
