#!/bin/bash
# The kvspill response extension, the stats endpoint and the web page over real HTTP:
# a repeated chat's cached tokens are named by source (host RAM, then the file tier after a
# restart, the prefix cache without offload) in whole and streamed responses;
# /v1/kvspill/stats needs the key and counts the tiers' hits; /, /dashboard and /web/*
# are served without it, with their content types, an ETag (304 on a match) and a CSP.
set -euo pipefail
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$KVSPILL_BIN" model gen --out "$TMP/m.gguf" >/dev/null

TMP="$TMP" python3 - <<'PY'
import json, os, sys, urllib.error, urllib.request
sys.path.insert(0, os.environ["KVSPILL_SOURCE_DIR"] + "/tests/support")
from kvspill_server import KV_TRANSFER, Server

TMP, KEY, CHUNK = os.environ["TMP"], "sekret", 16

def serve(name, mem=True, disk=True, apc=False):
    args = ["--model", TMP + "/m.gguf", "--device", "cpu", "--threads", "2",
            "--kv-cache-memory", "16M", "--api-key", KEY]
    env = {}
    if mem or disk:
        args += ["--kv-transfer-config", KV_TRANSFER, "--kv-offload-always-load"]
        env = dict(LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU=str(mem).lower(),
                   LMCACHE_MAX_LOCAL_CPU_SIZE="0.05")
        if disk:
            env.update(LMCACHE_LOCAL_DISK="file://" + TMP + "/cache", LMCACHE_MAX_LOCAL_DISK_SIZE="1")
    if not apc:
        args += ["--no-enable-prefix-caching"]
    return Server(name, args, env, TMP)

def call(s, path, body=None, key=KEY, headers=None, method=None):
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(s.url + path, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()

MSG = [{"role": "user", "content": "Tell me about caches. " * 12}]

def chat(s, stream=False):
    body = {"messages": MSG, "max_tokens": 4, "temperature": 0}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    st, _, raw = call(s, "/v1/chat/completions", body)
    assert st == 200, (st, raw)
    if not stream:
        r = json.loads(raw)
        return r["usage"], r["kvspill"]
    events = [json.loads(l[6:]) for l in raw.decode().split("\n")
              if l.startswith("data: ") and l != "data: [DONE]"]
    for ev in events[:-1]:
        assert "kvspill" not in ev, ev  # only the usage chunk carries it
    return events[-1]["usage"], events[-1]["kvspill"]

def check(usage, ext, source):
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    by = ext["cached_tokens"]
    assert sum(by.values()) == cached, (usage, ext)
    assert ext["recomputed"] == usage["prompt_tokens"] - cached, (usage, ext)
    assert ext["ttft_ms"] > 0, ext
    if source:
        assert by[source] > 0 and by[source] == cached, (source, usage, ext)
    else:
        assert cached == 0, (usage, ext)
    return cached

try:
    a = serve("a")
    usage, ext = chat(a)
    assert usage["prompt_tokens"] > 4 * CHUNK, usage
    assert set(ext["cached_tokens"]) == {"prefix_cache", "mem", "local_disk"}, ext
    check(usage, ext, None)
    n = check(*chat(a), "mem")
    assert n == usage["prompt_tokens"] // CHUNK * CHUNK or n == (usage["prompt_tokens"] - 1) // CHUNK * CHUNK, (n, usage)
    check(*chat(a, stream=True), "mem")

    # The stats endpoint: the key is asked for; the mem tier's hits are counted.
    st, _, raw = call(a, "/v1/kvspill/stats", key=None)
    assert st == 401, (st, raw)
    st, hdr, raw = call(a, "/v1/kvspill/stats")
    assert st == 200 and hdr["Content-Type"] == "application/json", (st, hdr)
    stats = json.loads(raw)
    tiers = {t["name"]: t for t in stats["tiers"]}
    assert set(tiers) == {"mem", "local_disk"}, stats["tiers"]
    assert tiers["mem"]["hits"] > 0 and tiers["mem"]["objects"] > 0, tiers
    assert stats["requests"] == {"running": 0, "waiting": 0, "total": 3}, stats["requests"]
    assert stats["ttft_seconds"]["cached"]["count"] == 2, stats["ttft_seconds"]
    assert stats["ttft_seconds"]["cold"]["count"] == 1, stats["ttft_seconds"]
    assert stats["offload"]["loaded_tokens"] == 2 * n, stats["offload"]
    a.settle()
    a.stop()

    # After a restart, with no mem tier, the file tier serves the prompt.
    b = serve("b", mem=False)
    check(*chat(b), "local_disk")
    b.stop()

    # No offload, prefix caching on: the repeated prompt comes from the prefix cache.
    c = serve("c", mem=False, disk=False, apc=True)
    check(*chat(c), None)
    usage, ext = chat(c)
    assert set(ext["cached_tokens"]) == {"prefix_cache"}, ext
    check(usage, ext, "prefix_cache")

    # The web page: no key needed, content types, revalidation, CSP; unknown files 404.
    for path, ctype in [("/", "text/html"), ("/dashboard", "text/html"),
                        ("/web/chat.js", "text/javascript"), ("/web/style.css", "text/css")]:
        st, hdr, raw = call(c, path, key=None)
        assert st == 200 and hdr["Content-Type"].startswith(ctype), (path, st, hdr)
        assert hdr["Cache-Control"] == "no-cache" and hdr["ETag"], (path, hdr)
        assert "default-src 'none'" in hdr["Content-Security-Policy"], hdr
        st2, _, raw2 = call(c, path, key=None, headers={"If-None-Match": hdr["ETag"]})
        assert st2 == 304 and raw2 == b"", (path, st2)
    st, _, raw = call(c, "/", key=None)
    assert b'<script src="/web/chat.js">' in raw, raw[:200]
    st, hdr, raw = call(c, "/", key=None, method="HEAD")
    assert st == 200 and raw == b"", (st, raw)
    st, _, raw = call(c, "/web/missing.js", key=None)
    assert st == 404, st
    st, _, raw = call(c, "/", key=None, body={})
    assert st == 404, st  # POST / is no endpoint
    c.stop()
finally:
    Server.kill_all()
print("ok")
PY
