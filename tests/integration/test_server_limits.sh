#!/bin/bash
# The server's limits against hostile clients, over real HTTP: a body over
# --max-request-bytes is a 413 (declared: answered before the body is sent; chunked: after
# it), prompt text or messages that cannot fit the context are a 400 before tokenizing,
# slow clients (slowloris) holding all the connections one address may open leave the
# server serving everyone else, idle connections are closed after --connection-timeout,
# /health /version /metrics answer without the API key and the rest need it, and a
# cache_salt made of path syntax only ever reaches the cache directory as a hex namespace.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
[ -f "$S/models/tiny-f32.gguf" ] || { echo "SKIP: tiny model not found (KVSPILL_SHARED_DIR)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

MODELS="$S/models" TMP="$TMP" python3 - <<'PY'
import json, os, re, select, socket, sys, time, urllib.error, urllib.request
sys.path.insert(0, os.environ["KVSPILL_SOURCE_DIR"] + "/tests/support")
from kvspill_server import KV_TRANSFER, Server

TMP = os.environ["TMP"]
PER_IP, TIMEOUT_S, MAX_BYTES = 8, 3, 64 << 10
cache = TMP + "/cache"
os.mkdir(cache)
srv = Server("limits", ["--model", os.environ["MODELS"] + "/tiny-f32.gguf", "--device", "cpu",
                        "--threads", "2", "--max-model-len", "256", "--kv-cache-memory", "16M",
                        "--api-key", "sekret", "--max-request-bytes", "64K",
                        "--max-connections", "64", "--max-connections-per-ip", str(PER_IP),
                        "--connection-timeout", str(TIMEOUT_S),
                        "--kv-transfer-config", KV_TRANSFER, "--kv-offload-always-load"],
             dict(LMCACHE_CHUNK_SIZE="16", LMCACHE_LOCAL_CPU="false",
                  LMCACHE_LOCAL_DISK="file://" + cache, LMCACHE_MAX_LOCAL_DISK_SIZE="1"), TMP)
try:
    KEY = {"Authorization": "Bearer sekret", "Content-Type": "application/json"}

    def call(path, body=None, headers=KEY, source="127.0.0.1"):
        """status, parsed JSON (or text) of one request over a socket bound to source."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(srv.url + path, data=data, headers=headers)
        handler = urllib.request.HTTPHandler()
        opener = urllib.request.build_opener(handler)
        orig = socket.create_connection
        def bound(addr, timeout=None, source_address=None, **kw):
            return orig(addr, timeout, (source, 0))
        socket.create_connection = bound
        try:
            with opener.open(req, timeout=60) as r:
                st, txt = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            st, txt = e.code, e.read().decode()
        finally:
            socket.create_connection = orig
        try:
            return st, json.loads(txt)
        except ValueError:
            return st, txt

    def openai_error(st, doc, status, param=None, code=None):
        assert st == status, (st, doc)
        err = doc["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["message"], err
        assert param is None or err["param"] == param, (err, param)
        assert code is None or err["code"] == code, (err, code)
        return err["message"]

    def raw(request, source="127.0.0.1", timeout=10):
        """Sends request bytes, returns everything the server sends back until it closes."""
        s = socket.create_connection(("127.0.0.1", srv.port), timeout, (source, 0))
        s.sendall(request)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
        s.close()
        return out

    # Unauthenticated probes and scraping, as vLLM serves them; the API needs the key.
    for path in ("/health", "/version", "/metrics"):
        assert call(path, headers={})[0] == 200, path
    assert "kvspill_" in call("/metrics", headers={})[1]
    openai_error(*call("/v1/models", headers={}), 401)
    openai_error(*call("/tokenize", {"prompt": "x"}, headers={}), 401)
    assert call("/v1/models")[0] == 200

    # Request bodies: a declared length over the cap is refused before the body is sent (the
    # client sends headers only and gets its answer); a chunked body over the cap after it.
    t0 = time.time()
    head = ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (1 << 30)).encode()
    reply = raw(head)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert "--max-request-bytes" in body["error"]["message"] and "65536" in body["error"]["message"], body
    assert time.time() - t0 < TIMEOUT_S, "the 413 waited for a body"
    big = json.dumps({"prompt": "a" * MAX_BYTES}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 4096]), big[i:i + 4096])
                       for i in range(0, len(big), 4096)) + b"0\r\n\r\n"
    reply = raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    openai_error(*call("/v1/completions", {"prompt": "a" * (MAX_BYTES - 100), "max_tokens": 1}),
                 400, "prompt", "context_length_exceeded")

    # Prompts that cannot fit 256 tokens, refused before tokenizing; max_tokens and n bounded.
    m = openai_error(*call("/v1/completions", {"prompt": "ab " * 4000, "max_tokens": 1}), 400,
                     "prompt", "context_length_exceeded")
    assert "256 tokens" in m, m
    openai_error(*call("/v1/chat/completions",
                       {"messages": [{"role": "user", "content": "x"}] * 300, "max_tokens": 1}),
                 400, "messages", "context_length_exceeded")
    openai_error(*call("/v1/chat/completions",
                       {"messages": [{"role": "user", "content": "y" * 6000}] * 4}),
                 400, "messages", "context_length_exceeded")
    m = openai_error(*call("/v1/completions", {"prompt": "x", "max_tokens": 257}), 400, "max_tokens")
    assert "context length 256" in m, m
    openai_error(*call("/v1/completions", {"prompt": "x", "max_tokens": 250, "n": 65}), 400, "n")
    st, r = call("/v1/completions", {"prompt": "Hello", "max_tokens": 2, "n": 2, "temperature": 0})
    assert st == 200 and len(r["choices"]) == 2, r

    # Slowloris: one address opens every connection it may and trickles a header byte at a
    # time; further connections from it are refused, a request from another address is served
    # at once, and all the while the slow ones stay open (they are not idle).
    # The requests above may still hold their slots for a moment after the client closed
    # (the server releases a slot after the socket): until every slow connection is open,
    # start over, so the one past the cap is the only one refused.
    for attempt in range(10):
        slow = []
        for _ in range(PER_IP):
            s = socket.create_connection(("127.0.0.1", srv.port), 10, ("127.0.0.1", 0))
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        time.sleep(0.3)
        if not select.select(slow, [], [], 0)[0]:  # none closed by the server
            break
        for s in slow:
            s.close()
        time.sleep(1)
    else:
        raise AssertionError("the address's slots never came back")
    def refused():
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), 5, ("127.0.0.1", 0))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            b = s.recv(100)
            s.close()
            return not b
        except OSError:
            return True
    assert refused(), "a connection over --max-connections-per-ip was served"
    t0 = time.time()
    for _ in range(2 * TIMEOUT_S):
        for s in slow:
            s.sendall(b"X")
        st, r = call("/v1/completions", {"prompt": "Hello", "max_tokens": 2, "temperature": 0},
                     source="127.0.0.2")
        assert st == 200 and r["choices"][0]["text"], (st, r)
        time.sleep(0.5)
    for s in slow:
        s.sendall(b"-Trickle: 1\r\n")  # still accepted: the trickle kept them alive
    assert time.time() - t0 > TIMEOUT_S, "the trickle did not outlast the idle timeout"
    for s in slow:
        s.close()

    # Idle connections are closed after --connection-timeout: the slots come back.
    idle = [socket.create_connection(("127.0.0.1", srv.port), 3 * TIMEOUT_S, ("127.0.0.3", 0))
            for _ in range(PER_IP)]
    t0 = time.time()
    for s in idle:
        assert s.recv(100) == b"", "an idle connection got bytes"
        s.close()
    waited = time.time() - t0
    assert TIMEOUT_S - 1 <= waited <= 3 * TIMEOUT_S, waited
    # The server closes the socket before it releases the address's slot, so the first
    # connection after may still be refused; within a second or two the slots are back.
    deadline = time.time() + 5
    while True:
        try:
            if call("/health", headers={}, source="127.0.0.3")[0] == 200:
                break
        except OSError:
            pass
        assert time.time() < deadline, "idle connections' slots did not come back"
        time.sleep(0.1)

    # A cache_salt made of path syntax names a hashed namespace: everything the tier wrote is
    # under cache/v1/<64 hex>/<2 hex>/<2 hex>/<64 hex>.kvc, and nothing appeared beside it.
    before = set(os.listdir(TMP))
    for salt in ("../../../../escape", "/etc/passwd", "..", "a\\..\\..\\b", "%2e%2e%2f"):
        st, r = call("/v1/completions", {"prompt": [1] + list(range(100, 160)), "max_tokens": 1,
                                         "cache_salt": salt})
        assert st == 200, (salt, st, r)
    for _ in range(200):
        if srv.metric("kvspill_offload_write_queue_bytes") == 0:
            break
        time.sleep(0.05)
    pat = re.compile(r"^v1/[0-9a-f]{64}/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.kvc$")
    files = []
    for root, dirs, names in os.walk(cache):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), cache)
            if rel.startswith("v1/") and rel.count("/") == 4:
                assert pat.match(rel), rel
                files.append(rel)
    namespaces = {f.split("/")[1] for f in files}
    assert len(namespaces) == 5, namespaces
    assert set(os.listdir(TMP)) == before, set(os.listdir(TMP)) ^ before
    assert not os.path.exists("/escape") and not os.path.exists(TMP + "/escape")

    assert call("/health", headers={})[0] == 200
    srv.stop()
    print("limits: 413 early and chunked, context limits, slowloris, idle timeout, open "
          "endpoints, %d objects in %d hex namespaces" % (len(files), len(namespaces)))
finally:
    Server.kill_all()
PY
