#!/bin/bash
# The router's keep-alive pool to its backends, against a small Python upstream that counts
# its connections and the requests on each: sequential requests share one connection; a
# stream is passed through unbuffered and its connection reused after its terminator; a
# pooled connection the upstream closes as the request arrives (FIN, then RST) or while it
# is idle is replaced by a new one with no error and no replica failure; an answer with
# Connection: close is not reused; idle connections expire; a backend that fails its health
# check loses its pool; --upstream-pool 0 opens a connection per request.
set -euo pipefail
. "$(dirname "$0")/../support/processes.sh"

UP=$(free_port)
/usr/bin/python3 "$(dirname "$0")/../support/keepalive_upstream.py" "$UP" >>"$DIR/upstream.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$UP" $! "$DIR/upstream.log"

RP=$(free_port); R0=$(free_port)
"$KVSPILL_BIN" router --backends "http://127.0.0.1:$UP" --host 127.0.0.1 --port "$RP" \
  --health-interval-ms 1000 --upstream-idle-ms 1500 >>"$DIR/router.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$RP" $! "$DIR/router.log"
"$KVSPILL_BIN" router --backends "http://127.0.0.1:$UP" --host 127.0.0.1 --port "$R0" \
  --health-interval-ms 1000 --upstream-pool 0 >>"$DIR/router0.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$R0" $! "$DIR/router0.log"

UP=$UP RP=$RP R0=$R0 /usr/bin/python3 - <<'PY'
import http.client, json, os, re, time, urllib.request
UP, RP, R0 = (int(os.environ[k]) for k in ("UP", "RP", "R0"))
BACKEND = "http://127.0.0.1:%d" % UP
def post(port, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, r.status
        return json.loads(r.read())
def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return r.read().decode()
def conns():
    return {int(k): v for k, v in json.loads(get(UP, "/conns")).items()}
def carrying():  # the connections that carried completions
    return {k: v for k, v in conns().items() if v["posts"]}
def metric(port, name):
    m = get(port, "/metrics")
    v = re.search(r'^%s(?:\{backend="%s"\})? (\d+)$' % (name, re.escape(BACKEND)), m, re.M)
    assert v, (name, m)
    return int(v.group(1))
def completion(port=RP, **extra):
    return post(port, "/v1/completions", dict({"prompt": "a"}, **extra))["conn"]

# Sequential requests: one connection carries them all.
used = {completion() for _ in range(20)}
assert len(used) == 1 and len(carrying()) == 1, (used, carrying())
assert metric(RP, "kvspill_router_upstream_connects_total") == 1
assert metric(RP, "kvspill_router_upstream_reused_total") == 19
home = used.pop()

# A stream through a pooled connection: each event arrives as the upstream sends it (0.4 s
# apart), and the connection goes back to the pool after the chunked terminator.
c = http.client.HTTPConnection("127.0.0.1", RP, timeout=30)
c.request("POST", "/v1/completions", json.dumps({"prompt": "a", "stream": True}),
          {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
t0, seen = time.time(), []
while True:
    line = r.readline()
    if not line:
        break
    if line.startswith(b"data: "):
        seen.append((line.strip().decode(), time.time() - t0))
c.close()
t0 = time.time()
while metric(RP, "kvspill_router_upstream_idle") != 1:  # given back once the router is done
    assert time.time() - t0 < 2, "the stream's connection did not go back to the pool"
    time.sleep(0.02)
assert [s for s, _ in seen] == ['data: {"choices":[{"index":0,"text":"e%d"}]}' % i
                                for i in range(3)] + ["data: [DONE]"], seen
assert seen[0][1] < 0.3 and seen[2][1] - seen[0][1] > 0.6, seen  # not held back
assert completion() == home and len(carrying()) == 1, carrying()

# The upstream closes the pooled connection as the next request arrives (FIN, then RST):
# the request goes again on a new connection, transparently, and the replica stays in.
for n, how in enumerate(("fin", "rst"), 1):
    post(UP, "/control", {"set": {"drop_next_reused": how}})
    got = completion()
    assert got != home, (how, got)
    assert not conns()[home]["closed_by_client"], (how, conns()[home])  # the upstream closed it
    home = got
    assert metric(RP, "kvspill_router_upstream_stale_retries_total") == n, how
    assert metric(RP, "kvspill_router_retries_total") == 0, how
    assert metric(RP, "kvspill_router_backend_healthy") == 1, how
    assert completion() == home, how

# Closed by the upstream while idle (its idle timeout): seen before sending, no retry.
connects = metric(RP, "kvspill_router_upstream_connects_total")
post(UP, "/control", {"close_idle": True})
time.sleep(0.2)
got = completion()
assert got != home, got
home = got
assert metric(RP, "kvspill_router_upstream_stale_retries_total") == 2
assert metric(RP, "kvspill_router_upstream_connects_total") == connects + 1

# An answer with Connection: close is not reused.
assert completion(close=True) == home
got = completion()
assert got != home, got
home = got

# Idle longer than --upstream-idle-ms (1.5 s): the router closes it at its next health
# round (each 1 s).
t0 = time.time()
while not conns()[home]["closed_by_client"]:
    assert time.time() - t0 < 4, ("idle connection not closed", conns()[home])
    time.sleep(0.1)
assert time.time() - t0 > 1.0, "closed before it expired"
home = completion()

# A backend out of the set loses its pool: the router closes the idle connection.
post(UP, "/control", {"set": {"health": 503}})
t0 = time.time()
while not conns()[home]["closed_by_client"]:
    assert time.time() - t0 < 3, ("pool kept for an unhealthy backend", conns()[home])
    time.sleep(0.05)
post(UP, "/control", {"set": {"health": 200}})
t0 = time.time()
while metric(RP, "kvspill_router_backend_healthy") != 1:
    assert time.time() - t0 < 4, "backend did not come back"
    time.sleep(0.05)
home = completion()
assert completion() == home

# --upstream-pool 0: a connection per request, as before the pool.
before = len(carrying())
assert len({completion(R0) for _ in range(5)}) == 5
assert len(carrying()) == before + 5
assert metric(R0, "kvspill_router_upstream_reused_total") == 0
print("router pool: ok")
PY
