#!/bin/bash
# `kvspill serve` end to end on a loopback port: every endpoint, streaming, auth, malformed
# requests (right status, OpenAI-shaped error, server keeps serving), waves of 32 concurrent
# streams with the server's RSS bounded,
# a client leaving mid-stream frees its sequence, SIGTERM exits 0.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$KVSPILL_BIN" serve --model "$MODEL" --host 127.0.0.1 --port "$PORT" --api-key sekret \
  --max-model-len 512 --threads 2 --served-model-name tiny 2>"$LOG" &
PID=$!
trap 'kill -9 $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 $PID 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
grep -q "kvspill: serving tiny on http://127.0.0.1:$PORT" "$LOG"

SERVER_PID=$PID URL="http://127.0.0.1:$PORT" python3 - <<'PY'
import json, os, re, socket, threading, time, urllib.request, urllib.error
URL = os.environ["URL"]
KEY = {"Authorization": "Bearer sekret"}

def call(method, path, body=None, headers=KEY, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(URL + path, data=data, method=method, headers=dict(headers))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers

def ok_json(method, path, body=None):
    st, txt, _ = call(method, path, body)
    assert st == 200, (path, st, txt)
    return json.loads(txt)

def expect_error(status, path, body=None, raw=None, headers=KEY, param=None):
    st, txt, _ = call("POST" if (body is not None or raw is not None) else "GET", path, body,
                      headers, raw)
    assert st == status, (path, body, raw, st, txt)
    err = json.loads(txt)["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"], err
    if param is not None:
        assert err["param"] == param, (err, param)
    assert call("GET", "/health", headers={})[0] == 200  # still serving

# Auth: everything but /health, /version and /metrics needs the key (as in vLLM).
for path in ("/health", "/version", "/metrics"):
    assert call("GET", path, headers={})[0] == 200, path
expect_error(401, "/v1/models", headers={})
expect_error(401, "/v1/models", headers={"Authorization": "Bearer wrong"})
expect_error(401, "/v1/completions", {"prompt": "x"}, headers={})

models = ok_json("GET", "/v1/models")
assert models["object"] == "list" and models["data"][0]["id"] == "tiny", models
assert "version" in ok_json("GET", "/version")

# Completions, whole response.
r = ok_json("POST", "/v1/completions", {"model": "tiny", "prompt": "Hello world", "max_tokens": 5,
                                        "temperature": 0, "logprobs": 1})
assert r["object"] == "text_completion" and r["id"].startswith("cmpl-"), r
c = r["choices"][0]
assert c["finish_reason"] == "length" and isinstance(c["text"], str), r
assert len(c["logprobs"]["token_logprobs"]) == 5 and all(x <= 0 for x in c["logprobs"]["token_logprobs"])
u = r["usage"]
assert u["completion_tokens"] == 5 and u["total_tokens"] == u["prompt_tokens"] + 5, u
assert "cached_tokens" in u["prompt_tokens_details"], u
# Greedy is repeatable, and n=2 gives two choices.
r2 = ok_json("POST", "/v1/completions", {"prompt": "Hello world", "max_tokens": 5, "temperature": 0})
assert r2["choices"][0]["text"] == c["text"], (r2, c)
r3 = ok_json("POST", "/v1/completions", {"prompt": [1, 15043], "max_tokens": 3, "n": 2, "seed": 1})
assert [x["index"] for x in r3["choices"]] == [0, 1] and r3["usage"]["completion_tokens"] == 6, r3
# A stop string cuts the text: stop at the greedy text's second character onwards.
if len(c["text"]) > 2:
    stop = c["text"][1:3]
    r4 = ok_json("POST", "/v1/completions", {"prompt": "Hello world", "max_tokens": 5,
                                             "temperature": 0, "stop": [stop]})
    assert r4["choices"][0]["finish_reason"] == "stop", r4
    assert r4["choices"][0]["text"] == c["text"][:c["text"].find(stop)], (r4, c, stop)

def stream(path, body, sock_timeout=60):
    req = urllib.request.Request(URL + path, data=json.dumps(body).encode(), method="POST",
                                 headers={**KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=sock_timeout) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = [l[6:] for l in resp.read().decode().split("\n\n") if l.startswith("data: ")]
    assert events[-1] == "[DONE]", events[-3:]
    return [json.loads(e) for e in events[:-1]]

# Completions, streamed, with usage.
ev = stream("/v1/completions", {"prompt": "Hello world", "max_tokens": 5, "temperature": 0,
                                "stream": True, "stream_options": {"include_usage": True}})
assert "".join(e["choices"][0]["text"] for e in ev if e["choices"]) == c["text"], ev
assert ev[-1]["choices"] == [] and ev[-1]["usage"]["completion_tokens"] == 5, ev[-1]
assert [e["choices"][0]["finish_reason"] for e in ev if e["choices"]][-1] == "length"

# Chat, whole and streamed.
msgs = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
r = ok_json("POST", "/v1/chat/completions", {"messages": msgs, "max_completion_tokens": 4, "temperature": 0})
assert r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-"), r
assert r["choices"][0]["message"]["role"] == "assistant" and r["usage"]["completion_tokens"] <= 4, r
ev = stream("/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0, "stream": True})
assert ev[0]["object"] == "chat.completion.chunk" and ev[0]["choices"][0]["delta"]["role"] == "assistant"
assert "".join(e["choices"][0]["delta"].get("content", "") for e in ev) == r["choices"][0]["message"]["content"]

# Tokenize / detokenize round trip.
t = ok_json("POST", "/tokenize", {"model": "tiny", "prompt": "The quick brown fox"})
assert t["count"] == len(t["tokens"]) and t["max_model_len"] == 512 and t["tokens"][0] == 1, t
d = ok_json("POST", "/detokenize", {"model": "tiny", "tokens": t["tokens"]})
assert d["prompt"] == "The quick brown fox", d
tc = ok_json("POST", "/tokenize", {"messages": msgs})
assert tc["count"] == r["usage"]["prompt_tokens"], (tc, r["usage"])

# Malformed requests: status, OpenAI shape, the server keeps serving.
expect_error(400, "/v1/completions", raw=b"{not json")
expect_error(400, "/v1/completions", raw=b"\xff\xfe\x00garbage")
expect_error(400, "/v1/completions", raw=b"[]")
expect_error(400, "/v1/completions", {"prompt": 12}, param="prompt")
expect_error(400, "/v1/completions", {"prompt": "x", "max_tokens": "many"}, param="max_tokens")
expect_error(400, "/v1/completions", {"prompt": "x", "temperature": [1]}, param="temperature")
expect_error(400, "/v1/completions", {"prompt": "x", "stream": 1}, param="stream")
expect_error(400, "/v1/completions", {"prompt": [1, 99999999]}, param="prompt")
expect_error(404, "/v1/completions", {"prompt": "x", "model": "gpt-5"}, param="model")
expect_error(400, "/v1/completions", {"prompt": [1] * 600, "max_tokens": 1}, param="prompt")
expect_error(400, "/v1/completions", {"prompt": "x", "max_tokens": 100000}, param="max_tokens")
expect_error(400, "/v1/completions", {"prompt": [1] * 500, "max_tokens": 20}, param="max_tokens")
expect_error(400, "/v1/chat/completions", {"messages": [{"role": "user"}], "n": "2"})
expect_error(400, "/v1/chat/completions", {"messages": "hi"}, param="messages")
expect_error(404, "/tokenize", {"model": "nope", "prompt": "x"}, param="model")
expect_error(400, "/detokenize", {"tokens": ["a"]}, param="tokens")
expect_error(404, "/v1/nothing-here")
# A body over the default --max-request-bytes (32M) is answered before it is sent (as a
# client sending "Expect: 100-continue" waits for); tests/integration/test_server_limits.sh
# tests the limits in full.
s = socket.create_connection(("127.0.0.1", int(URL.rsplit(":", 1)[1])), 30)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\n"
          b"Content-Length: %d\r\n\r\n" % ((32 << 20) + 1))
reply = b""
while not reply.endswith(b"}}"):
    b = s.recv(4096)
    assert b, reply
    reply += b
s.close()
assert reply.startswith(b"HTTP/1.1 413"), reply
assert set(json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]) == {"message", "type", "param", "code"}
assert call("GET", "/health", headers={})[0] == 200

# 32 concurrent streams all complete, wave after wave, and the server's memory stays
# bounded: what one wave allocates is freed for the next (ASan's quarantine of freed
# memory makes RSS grow by design there, hence the looser bound).
def rss_kb():
    with open("/proc/%s/status" % os.environ["SERVER_PID"]) as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
def wave():
    results, errors = [], []
    def one(i):
        try:
            ev = stream("/v1/completions", {"prompt": "Stream %d" % i, "max_tokens": 8,
                                            "stream": True, "stream_options": {"include_usage": True},
                                            "seed": i})
            results.append(ev[-1]["usage"]["completion_tokens"])
        except Exception as e:
            errors.append(repr(e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for th in threads: th.start()
    for th in threads: th.join()
    assert not errors and len(results) == 32 and all(n == 8 for n in results), (errors, results)
wave()
rss_after_first = rss_kb()
for _ in range(5):
    wave()
growth_kb = rss_kb() - rss_after_first
limit_kb = (512 if os.environ.get("KVSPILL_SANITIZED") else 16) * 1024
print("RSS growth over 5 waves of 32 streams: %d KiB" % growth_kb)
assert growth_kb < limit_kb, ("RSS grew by %d KiB over 5 waves of 32 streams" % growth_kb)

def metrics():
    st, txt, hdr = call("GET", "/metrics")
    assert st == 200 and hdr["Content-Type"].startswith("text/plain"), (st, hdr)
    return txt
def gauge(txt, name):
    m = re.search(r"^%s\{[^}]*\} (\d+)$" % name, txt, re.M)
    assert m, name
    return int(m.group(1))
txt = metrics()
for name in ["kvspill_num_requests_running", "kvspill_num_requests_waiting", "kvspill_requests_total",
             "kvspill_prompt_tokens_total", "kvspill_generation_tokens_total",
             "kvspill_prefix_cache_queries_total", "kvspill_prefix_cache_hits_total",
             "kvspill_time_to_first_token_seconds_bucket", "kvspill_inter_token_latency_seconds_count",
             "kvspill_offload_load_seconds_bucket", "kvspill_offload_store_seconds_sum",
             "kvspill_offload_dropped_stores_total", "kvspill_offload_tier_corrupt_objects_total",
             "kvspill_offload_write_queue_bytes"]:
    assert re.search(r"^%s[{ ]" % name, txt, re.M) or ("# TYPE %s " % name) in txt, name
for line in txt.splitlines():
    assert line.startswith("#") or re.match(r'^kvspill_[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$', line), line
assert gauge(txt, "kvspill_time_to_first_token_seconds_count") >= 32
# The allocator's view: bytes in use cover at least the server's own tables, and what it
# holds free stays below what the kernel says the process holds (under ASan, glibc's
# malloc is not the one in use and reports next to nothing).
with open("/proc/%s/status" % os.environ["SERVER_PID"]) as f:
    rss = int(f.read().split("VmRSS:")[1].split()[0]) * 1024
in_use, held_free = gauge(txt, "kvspill_heap_in_use_bytes"), gauge(txt, "kvspill_heap_free_bytes")
assert held_free < rss, (held_free, rss)
assert in_use > 1 << 16 or os.environ.get("KVSPILL_SANITIZED"), in_use

# A client that leaves mid-stream frees its sequence: the generation is cancelled long
# before its 480 tokens, and running goes back to 0.
s = socket.create_connection(("127.0.0.1", int(URL.rsplit(":", 1)[1])))
body = json.dumps({"prompt": "Leave early", "max_tokens": 480, "stream": True,
                   "temperature": 1.0, "stop_token_ids": []}).encode()
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\n"
          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
got = b""
while b"data: " not in got:
    got += s.recv(4096)
before = gauge(metrics(), "kvspill_generation_tokens_total")
s.close()
deadline = time.time() + 10
while gauge(metrics(), "kvspill_num_requests_running") != 0:
    assert time.time() < deadline, "running never returned to 0 after the client left"
    time.sleep(0.05)
after = gauge(metrics(), "kvspill_generation_tokens_total")
assert after - before < 470, (before, after)
time.sleep(0.3)
assert gauge(metrics(), "kvspill_generation_tokens_total") == after
print("api checks passed")
PY

kill -TERM $PID
status=0
wait $PID || status=$?
[ "$status" -eq 0 ] || { echo "serve exited $status after SIGTERM"; cat "$LOG"; exit 1; }
grep -q "SIGTERM received" "$LOG"
echo PASS
