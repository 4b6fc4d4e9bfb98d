#!/usr/bin/env python3
"""Soak of `kvspill serve` with KV offload (run by scripts/soak.sh; stdlib only).

Three server processes share one small cache directory on 127.0.0.1, with host RAM and a
Redis server (when redis-server is installed) as their other tiers, behind a `kvspill
router` (prefixaware). SOAK_CLIENTS (default 64) clients send half their requests through
the router and half to two of the replicas directly: a mix of completions and chats, streaming or not, over shared prefixes with random cache_salts;
some leave mid-stream, some send malformed bodies. Throughout it checks that every
well-formed request gets 200 and a well-shaped answer, malformed ones an OpenAI-shaped 4xx,
greedy answers to fixed probe prompts never change (directly and through the router),
each process's RSS stays within a bound
of its size after warm-up (the slope is reported), and the directory stays under its
capacity (plus the slack of the writers' rescan interval). At the end: each process holds
as many descriptors as before the load, `kvspill cache verify` finds no damaged object and
every process exits 0 on SIGTERM. Prints "N passed, M failed"; exits 1 on any failure.
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "support"))
from kvspill_server import free_port  # noqa: E402
from load_tools import Redis, redis_available, slope_kb_per_min  # noqa: E402

BIN, MODEL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
SECONDS = int(sys.argv[4])
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "64"))
FD_SLACK = 8
CHUNK = 64
MAX_MODEL_LEN = 2048
# 32 MiB: the servers write ~5 MB/s, so the directory turns over every few seconds.
DISK_GB = 0.03125
WRITE_QUEUE_GB = float(os.environ.get("SOAK_WRITE_QUEUE_GB", "0.03125"))
# A writer refuses puts that would take its estimate of the directory past the capacity
# while the others evict; the estimate misses only the other two servers' writes since
# their last scan (at most 10% of the capacity each) and writes in flight.
DISK_LIMIT = int(DISK_GB * (1 << 30) * 1.25)
RSS_GROWTH_MB = int(os.environ.get("SOAK_RSS_GROWTH_MB", "96"))
WARMUP = min(60, SECONDS // 4)
KVT = '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
CACHE = os.path.join(WORK, "cache")

lock = threading.Lock()
stats = {"passed": 0, "failed": 0}
counts = {}
failures = []
stop_at = time.monotonic() + SECONDS


def count(what):
    with lock:
        counts[what] = counts.get(what, 0) + 1


def passed():
    with lock:
        stats["passed"] += 1


def failed(msg):
    with lock:
        stats["failed"] += 1
        if len(failures) < 30:
            failures.append(msg[:600])
    print("FAIL: " + msg[:600], file=sys.stderr, flush=True)


class Server:
    """A `kvspill serve` replica with the three offload tiers."""

    def __init__(self, name, redis_port=None):
        self.name, self.port = name, free_port()
        env = dict(os.environ, LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU="True",
                   LMCACHE_MAX_LOCAL_CPU_SIZE="0.02", LMCACHE_LOCAL_DISK="file://" + CACHE,
                   LMCACHE_MAX_LOCAL_DISK_SIZE=str(DISK_GB),
                   # Stores wait for the directory's eviction; a 32 MB queue sheds the rest
                   # (dropped_stores) where the 1 GB default would let RSS grow by it.
                   LMCACHE_MAX_WRITE_QUEUE_SIZE=str(WRITE_QUEUE_GB))
        if redis_port:
            env["LMCACHE_REMOTE_URL"] = "redis://127.0.0.1:%d" % redis_port
        self.start(
            [BIN, "serve", "--model", MODEL, "--host", "127.0.0.1", "--port", str(self.port),
             "--served-model-name", "soak", "--max-model-len", str(MAX_MODEL_LEN),
             "--threads", "1", "--kv-cache-memory", "64M", "--kv-transfer-config", KVT,
             # every client and the router connect from 127.0.0.1: no per-address cap
             "--max-connections-per-ip", "0"], env)

    def start(self, argv, env):
        self.log = open(os.path.join(WORK, self.name + ".log"), "w+")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log)
        for _ in range(600):
            try:
                if self.request("GET", "/health", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            if self.p.poll() is not None:
                raise SystemExit("%s did not start:\n%s" % (self.name, self.tail()))
            time.sleep(0.1)
        raise SystemExit("%s: no /health in 60 s" % self.name)


    def tail(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-3000:]

    def request(self, method, path, body=None, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))

    def rss_parts_kb(self):
        """RssAnon, RssFile and RssShmem of /proc/PID/status (kB)."""
        with open("/proc/%d/status" % self.p.pid) as f:
            text = f.read()
        return {k: int(re.search(r"^%s:\s+(\d+) kB" % k, text, re.M).group(1))
                for k in ("RssAnon", "RssFile", "RssShmem")}

    def mappings_kb(self):
        """The Rss of each mapping in /proc/PID/smaps (kB), keyed by start address and name."""
        out, cur = {}, None
        with open("/proc/%d/smaps" % self.p.pid) as f:
            for line in f:
                m = re.match(r"^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
                if m:
                    cur = "%s %s" % (m.group(1), m.group(2) or "[anon]")
                elif cur and line.startswith("Rss:"):
                    out[cur] = int(line.split()[1])
        return out

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.p.pid))


class Router(Server):
    """`kvspill router` in front of the replicas."""

    def __init__(self, name, replicas):
        self.name, self.port = name, free_port()
        backends = ",".join("http://127.0.0.1:%d" % r.port for r in replicas)
        self.start([BIN, "router", "--backends", backends, "--host", "127.0.0.1",
                    "--port", str(self.port), "--routing-logic", "prefixaware"],
                   dict(os.environ))


# Shared prefixes: a few long "documents" of seeded words, and system prompts.
_words = random.Random(1)
WORDS = ["".join(_words.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_words.randint(2, 9)))
         for _ in range(400)]
DOCS = [" ".join(_words.choice(WORDS) for _ in range(220)) for _ in range(4)]
SYSTEMS = ["You are assistant %d. " % i + DOCS[i][:600] for i in range(3)]
PROBES = [
    ("/v1/completions", {"prompt": DOCS[0][:900] + " Summary:"}),
    ("/v1/completions", {"prompt": DOCS[1][:400]}),
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": SYSTEMS[0]},
                                           {"role": "user", "content": "what next?"}]}),
    ("/v1/completions", {"prompt": [1] + list(range(40, 40 + 3 * CHUNK + 5))}),
]
MALFORMED = [
    ("/v1/completions", b'{"prompt": "unterminated', 400),
    ("/v1/completions", b"\xff\xfe\x00garbage", 400),
    ("/v1/completions", {"prompt": 5}, 400),
    ("/v1/completions", {"prompt": "x", "max_tokens": -1}, 400),
    ("/v1/completions", {"prompt": "x", "temperature": "hot"}, 400),
    ("/v1/completions", {"prompt": [1, 99999999]}, 400),
    ("/v1/completions", {"prompt": "x", "max_tokens": 100000}, 400),
    ("/v1/completions", {"model": "nope", "prompt": "x"}, 404),
    ("/v1/chat/completions", {"messages": "hi"}, 400),
    ("/v1/chat/completions", {"messages": []}, 400),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, 400),
]


def check_error(status, raw, want, what):
    try:
        err = json.loads(raw)["error"]
        ok = status == want and set(err) == {"message", "type", "param", "code"} and err["message"]
    except (ValueError, KeyError, TypeError):
        ok = False
    if ok:
        passed()
    else:
        failed("%s: want %d and an error body, got %d %r" % (what, want, status, raw[:200]))


def check_whole(chat, body, r, what):
    """Shape of a non-streamed answer."""
    n = body.get("n", 1)
    assert r["object"] == ("chat.completion" if chat else "text_completion"), r
    assert [c["index"] for c in r["choices"]] == list(range(n)), r
    for c in r["choices"]:
        assert c["finish_reason"] in ("stop", "length"), c
        text = c["message"]["content"] if chat else c["text"]
        assert isinstance(text, str), c
    u = r["usage"]
    assert 0 <= u["completion_tokens"] <= n * body["max_tokens"], u
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u
    assert u["prompt_tokens_details"]["cached_tokens"] <= u["prompt_tokens"], u
    return u["prompt_tokens_details"]["cached_tokens"]


def stream(server, path, body, leave_after):
    """Reads server-sent events; leaves after leave_after events when it is not None.
    Returns the parsed events and whether [DONE] arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise AssertionError("status %d: %r" % (r.status, r.read()[:300]))
        assert r.getheader("Content-Type", "").startswith("text/event-stream"), r.getheaders()
        events = []
        while True:
            if leave_after is not None and len(events) >= leave_after:
                conn.sock.shutdown(socket.SHUT_RDWR)  # a client that goes away mid-stream
                return events, False
            line = r.readline()
            if not line:
                return events, False
            line = line.strip()
            if not line:
                continue
            assert line.startswith(b"data: "), line
            if line == b"data: [DONE]":
                return events, True
            events.append(json.loads(line[6:]))
    finally:
        conn.close()


def check_stream(chat, body, events):
    n = body.get("n", 1)
    finished = set()
    for ev in events:
        if not ev["choices"]:
            assert "usage" in ev, ev  # include_usage's last chunk
            continue
        assert ev["object"] == ("chat.completion.chunk" if chat else "text_completion"), ev
        for c in ev["choices"]:
            assert 0 <= c["index"] < n, ev
            if chat:
                assert isinstance(c["delta"], dict), ev
            else:
                assert isinstance(c["text"], str), ev
            if c.get("finish_reason"):
                assert c["finish_reason"] in ("stop", "length"), ev
                finished.add(c["index"])
    assert finished == set(range(n)), ("not every choice finished", events[-3:])


def random_body(rng, chat):
    if chat:
        msgs = [{"role": "system", "content": rng.choice(SYSTEMS)}]
        for _ in range(rng.randrange(0, 3)):
            msgs += [{"role": "user", "content": " ".join(rng.choices(WORDS, k=8))},
                     {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=6))}]
        msgs.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 30)))})
        body = {"messages": msgs}
    elif rng.random() < 0.15:
        n = rng.randint(1, 700)
        body = {"prompt": [1] + [rng.randrange(3, 600) for _ in range(n)]}
    else:
        doc = rng.choice(DOCS)
        body = {"prompt": doc[:rng.choice([100, 300, 500, 800])] + " " +
                " ".join(rng.choices(WORDS, k=rng.randint(0, 40)))}
    body["max_tokens"] = rng.randint(1, 24)
    body["temperature"] = rng.choice([0, 0.5, 1.0])
    if rng.random() < 0.2:
        body["n"] = 2
    if rng.random() < 0.2:
        body["stop"] = [rng.choice(WORDS)[:2]]
    if rng.random() < 0.2:
        body["logprobs"] = True if chat else 1
    if rng.random() < 0.5:
        body["cache_salt"] = rng.choice(["tenant-a", "tenant-b", "t%d" % rng.randrange(10 ** 9)])
    if rng.random() < 0.3:
        body["seed"] = rng.randrange(1000)
    return body


def client(idx, servers):
    rng = random.Random(100 + idx)
    for _ in range(100000):  # bounded; the deadline ends it first
        if time.monotonic() > stop_at:
            return
        # servers: the router, then the replicas; the last replica is reached only through
        # the router.
        pick = rng.random()
        server = servers[0] if pick < 0.5 else servers[1] if pick < 0.8 else servers[2]
        roll = rng.random()
        if roll < 0.05:
            path, body, want = rng.choice(MALFORMED)
            try:
                st, raw = server.request("POST", path, body)
                check_error(st, raw, want, "malformed %r" % (body,)[:80])
            except Exception as e:
                failed("malformed %r on %s: %r" % (body, server.name, e))
            count("malformed")
            continue
        chat = rng.random() < 0.45
        path = "/v1/chat/completions" if chat else "/v1/completions"
        body = random_body(rng, chat)
        what = "%s %s on %s" % ("chat" if chat else "completion",
                                json.dumps(body)[:160], server.name)
        try:
            if rng.random() < 0.4:
                body["stream"] = True
                if rng.random() < 0.5:
                    body["stream_options"] = {"include_usage": True}
                leave = rng.randint(0, 3) if rng.random() < 0.25 else None
                events, done = stream(server, path, body, leave)
                if leave is None:
                    assert done, "no [DONE]"
                    check_stream(chat, body, events)
                    count("stream")
                else:
                    count("left mid-stream")
            else:
                st, raw = server.request("POST", path, body)
                assert st == 200, "status %d: %r" % (st, raw[:300])
                if check_whole(chat, body, json.loads(raw), what) > 0:
                    count("cached_tokens>0")
                count("whole")
            passed()
        except Exception as e:
            failed("%s: %r" % (what, e))


def probe(servers, answers):
    """Greedy answers to the probes, on every server, against the first ones seen."""
    for i, (path, body) in enumerate(PROBES):
        for s in servers:
            b = dict(body, max_tokens=12, temperature=0)
            try:
                st, raw = s.request("POST", path, b)
                assert st == 200, "status %d: %r" % (st, raw[:300])
                c = json.loads(raw)["choices"][0]
                text = c["message"]["content"] if "message" in c else c["text"]
            except Exception as e:
                failed("probe %d on %s: %r" % (i, s.name, e))
                continue
            first = answers.setdefault(i, (text, s.name))
            if text == first[0]:
                passed()
            else:
                failed("probe %d on %s: %r, first answer %r (%s)" % (i, s.name, text, *first))
            count("probe")


def cache_bytes():
    out = subprocess.run([BIN, "cache", "stat", CACHE], capture_output=True, text=True)
    m = re.search(r"^total: .*?(\d+) objects, (\d+) bytes .*; \d+ temp files, (\d+) bytes",
                  out.stdout, re.M)
    if out.returncode != 0 or not m:
        failed("cache stat: rc %d %r" % (out.returncode, out.stdout[-300:] + out.stderr[-300:]))
        return 0
    return int(m.group(2)) + int(m.group(3))


def offload_metrics(server, marks):
    """The file tier's counters; no object may have been found corrupt."""
    st, raw = server.request("GET", "/metrics")
    for name in ("evictions", "corrupt_objects", "put_errors", "written_bytes", "hits"):
        m = re.search(r'^kvspill_offload_tier_%s_total\{[^}]*tier="local_disk"\} (\d+)$' % name,
                      raw.decode(), re.M)
        marks["%s_%s" % (server.name, name)] = int(m.group(1)) if m else -1
    m = re.search(r'^kvspill_offload_dropped_stores_total\{[^}]*\} (\d+)$', raw.decode(), re.M)
    marks[server.name + "_dropped_stores"] = int(m.group(1)) if m else -1
    if st != 200 or marks[server.name + "_corrupt_objects"] != 0:
        failed("%s /metrics: status %d, corrupt objects %d" %
               (server.name, st, marks[server.name + "_corrupt_objects"]))
    else:
        passed()


def router_pooled(router):
    """Idle keep-alive connections the router holds, by replica port ({} if unknown)."""
    try:
        st, raw = router.request("GET", "/metrics")
    except OSError:
        return {}
    found = re.findall(r'^kvspill_router_upstream_idle\{backend="http://127\.0\.0\.1:(\d+)"\} (\d+)$',
                       raw.decode() if st == 200 else "", re.M)
    return {int(port): int(n) for port, n in found}


def memory_gauges(server):
    """The bytes in the server's write queue and its malloc's bytes in use and held free
    (all 0 when /metrics does not answer)."""
    names = ("kvspill_offload_write_queue_bytes", "kvspill_heap_in_use_bytes",
             "kvspill_heap_free_bytes")
    try:
        st, raw = server.request("GET", "/metrics")
    except OSError:
        return [0] * len(names)
    text = raw.decode() if st == 200 else ""
    found = [re.search(r'^%s\{[^}]*\} (\d+)$' % n, text, re.M) for n in names]
    return [int(m.group(1)) if m else 0 for m in found]


# When each replica's write queue first held 3/4 of its budget (seconds after the start):
# the RSS slope is reported after warm-up, after that moment, and for RSS less the queued
# bytes (the queue is bounded by its budget; the rest of the process must be flat).
queue_full_at = {}
# Each process's mappings at the end of warm-up: what grew since is named at the end, so a
# slope can be told apart (malloc arena, thread stack, a file's page cache, a tier's pool).
maps_at_warm = {}


def grown_mappings(server, top=3):
    """The mappings whose Rss grew most since warm-up, as "name +N kB" strings."""
    before, after = maps_at_warm.get(server.name, {}), server.mappings_kb()
    grown = sorted(((kb - before.get(k, 0), k) for k, kb in after.items()), reverse=True)
    return ["%s +%d kB" % (k, d) for d, k in grown[:top] if d > 0]


def watch(servers, answers, marks, series):
    """Probes, RSS and directory size every few seconds until the deadline."""
    start = time.monotonic()
    base = {}
    for _ in range(100000):
        now = time.monotonic()
        if now > stop_at:
            return
        probe(servers, answers)
        used = cache_bytes()
        marks["disk_max"] = max(marks.get("disk_max", 0), used)
        if used > DISK_LIMIT:
            failed("cache directory holds %d bytes, limit %d" % (used, DISK_LIMIT))
        for s in servers:
            if s.p.poll() is not None:
                failed("%s exited with %s:\n%s" % (s.name, s.p.returncode, s.tail()))
                return
            rss = s.rss_kb()
            marks["rss_max_" + s.name] = max(marks.get("rss_max_" + s.name, 0), rss)
            queued, in_use, held_free = [0, 0, 0] if isinstance(s, Router) else memory_gauges(s)
            queued_kb = queued // 1024
            if queued_kb >= 0.75 * WRITE_QUEUE_GB * (1 << 20) and s.name not in queue_full_at:
                queue_full_at[s.name] = now - start
                marks["queue_full_at_s_" + s.name] = int(now - start)
            if now - start < WARMUP:
                base[s.name] = max(base.get(s.name, 0), rss)
                continue
            marks["rss_warm_" + s.name] = base[s.name]
            if s.name not in maps_at_warm:
                maps_at_warm[s.name] = s.mappings_kb()
            series.setdefault(s.name, []).append((now - start, rss))
            for part, kb in s.rss_parts_kb().items():
                series.setdefault("%s_%s" % (s.name, part), []).append((now - start, kb))
            series.setdefault(s.name + "_less_queue", []).append((now - start, rss - queued_kb))
            if not isinstance(s, Router):
                series.setdefault(s.name + "_heap_in_use", []).append((now - start, in_use // 1024))
                series.setdefault(s.name + "_heap_free", []).append((now - start, held_free // 1024))
            if rss > base[s.name] + RSS_GROWTH_MB * 1024:
                failed("%s RSS %d kB, %d kB after warm-up (limit +%d MB)" %
                       (s.name, rss, base[s.name], RSS_GROWTH_MB))
        time.sleep(3)


def main():
    os.makedirs(CACHE, exist_ok=True)
    redis = Redis() if redis_available() else None
    replicas = [Server(n, redis and redis.port) for n in ("a", "b", "c")]
    router = Router("router", replicas)
    servers = [router] + replicas
    answers, marks, series = {}, {}, {}
    fds0 = {s.name: s.fds() for s in servers}
    try:
        threads = [threading.Thread(target=client, args=(i, servers)) for i in range(CLIENTS)]
        threads.append(threading.Thread(target=watch, args=(servers, answers, marks, series)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        probe(servers, answers)
        for s in replicas:
            offload_metrics(s, marks)
        time.sleep(3)  # connections of the last requests close
        pooled = router_pooled(router)
        for s in servers:
            fds = s.fds()
            marks["fds_%s_before_after" % s.name] = fds - fds0[s.name]
            # The router keeps idle keep-alive connections to the replicas (both ends count).
            held = sum(pooled.values()) if s is router else pooled.get(s.port, 0)
            marks["fds_%s_router_pool" % s.name] = held
            if fds <= fds0[s.name] + FD_SLACK + held:
                passed()
            else:
                failed("%s: %d descriptors before the load, %d after" % (s.name, fds0[s.name], fds))
            marks["rss_slope_kb_per_min_" + s.name] = int(slope_kb_per_min(series.get(s.name, [])))
            marks["rss_less_queue_slope_kb_per_min_" + s.name] = int(slope_kb_per_min(
                series.get(s.name + "_less_queue", [])))
            print("soak: %s mappings grown most since warm-up: %s" % (
                s.name, "; ".join(grown_mappings(s)) or "none"))
            for part in ("heap_in_use", "heap_free", "RssAnon", "RssFile", "RssShmem"):
                if series.get("%s_%s" % (s.name, part)):
                    marks["%s_slope_kb_per_min_%s" % (part, s.name)] = int(slope_kb_per_min(
                        series["%s_%s" % (s.name, part)]))
            # A leak keeps its slope over the second half; a level-off does not.
            points = series.get(s.name, [])
            if points:
                half = (points[0][0] + points[-1][0]) / 2
                marks["rss_slope_last_half_" + s.name] = int(slope_kb_per_min(
                    [p for p in points if p[0] >= half]))
                for part in ("RssAnon", "RssFile"):
                    marks["%s_slope_last_half_%s" % (part, s.name)] = int(slope_kb_per_min(
                        [p for p in series.get("%s_%s" % (s.name, part), []) if p[0] >= half]))
            if s.name in queue_full_at:
                marks["rss_slope_after_queue_full_" + s.name] = int(slope_kb_per_min(
                    [p for p in series.get(s.name, []) if p[0] >= queue_full_at[s.name]]))
        for s in servers:  # the router first, so no request of its reaches a stopped replica
            s.p.send_signal(signal.SIGTERM)
            try:
                rc = s.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                rc = "no exit in 60 s"
            if rc == 0:
                passed()
            else:
                failed("%s on SIGTERM: %s\n%s" % (s.name, rc, s.tail()))
        used = cache_bytes()
        if used > DISK_LIMIT:
            failed("cache directory holds %d bytes at the end, limit %d" % (used, DISK_LIMIT))
        v = subprocess.run([BIN, "cache", "verify", CACHE], capture_output=True, text=True)
        if v.returncode == 0 and " 0 damaged" in v.stdout:
            passed()
        else:
            failed("cache verify: rc %d %s%s" % (v.returncode, v.stdout[-500:], v.stderr[-500:]))
        print("soak: %s; %s; cache verify: %s" % (
            ", ".join("%s %d" % kv for kv in sorted(counts.items())),
            ", ".join("%s %d" % kv for kv in sorted(marks.items())), v.stdout.strip()))
        # The sampled series (seconds, kB), for plotting or slopes over other windows.
        with open(os.path.join(WORK, "soak-series.json"), "w") as f:
            json.dump({"queue_full_at_s": queue_full_at, "series": series}, f)
        print("soak: series in %s" % os.path.join(WORK, "soak-series.json"))
    finally:
        for s in servers:
            if s.p.poll() is None:
                s.p.kill()
        if redis:
            redis.kill()
    for f in failures:
        print("  " + f)
    print("%d passed, %d failed" % (stats["passed"], stats["failed"]))
    return 1 if stats["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
