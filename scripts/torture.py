#!/usr/bin/env python3
"""Faults under load (run by scripts/torture.sh, `make torture`; stdlib only).

Two `kvspill serve` replicas share one cache directory on a tmpfs this script mounts, with
host RAM, that directory and a Redis server as tiers, every hit loaded. CLIENTS threads send
completions and chats, streamed or not, over shared prefixes, some leaving mid-stream; a
share of them are greedy probes whose answer must equal, token for token, what a cache-off
server answered before the run. The load runs through phases, one fault each:

  baseline   no fault
  enospc     the file system filled to ENOSPC by a filler file
  readonly   the file system remounted read-only
  unmount    the file system lazily unmounted (the directory vanishes), then mounted again
             empty and the cache directory made anew, as an operator would
  redis      redis-server SIGKILLed, restarted half-way through the phase
  replica    replica b SIGKILLed, restarted half-way through the phase
  corrupt    bytes of stored objects overwritten while the replicas read them
  clock      the replicas' wall clock stepped an hour ahead, then back (libfaketime)

Every phase must end with 0 wrong answers and 0 failed requests, except requests to replica
b while it is down (and those it was serving when killed): they must fail, with a
connection error, not hang. Throughout: RSS of each replica sampled (the slope after
warm-up is reported, growth bounded), open descriptors counted before and after (no leak).
A fault the machine cannot make (not root, no tmpfs, no libfaketime, no redis-server) is
reported as skipped with the reason. Prints "N passed, M failed"; exits 1 on any failure.
"""
import http.client
import json
import os
import random
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
PHASE_S = int(sys.argv[4])
CLIENTS = int(os.environ.get("TORTURE_CLIENTS", "64"))
CHUNK = 64
MAX_MODEL_LEN = 1024
KVT = '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
MNT = os.path.join(WORK, "mnt")
CACHE = os.path.join(MNT, "cache")
CLOCK_FILE = os.path.join(WORK, "faketime")
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
RSS_GROWTH_MB = int(os.environ.get("TORTURE_RSS_GROWTH_MB", "128"))
FD_SLACK = 8

lock = threading.Lock()
totals = {"passed": 0, "failed": 0}
phase = {"name": "start", "b_down": False}
per_phase = {}
failures = []
skipped = []


def note(kind, msg=None):
    with lock:
        p = per_phase.setdefault(phase["name"], {})
        p[kind] = p.get(kind, 0) + 1
        if kind in ("wrong", "failed", "check failed"):
            totals["failed"] += 1
            if len(failures) < 30:
                failures.append("[%s] %s: %s" % (phase["name"], kind, (msg or "")[:500]))
            print("FAIL [%s] %s: %s" % (phase["name"], kind, (msg or "")[:500]),
                  file=sys.stderr, flush=True)
        elif kind in ("ok", "check"):
            totals["passed"] += 1


def check(ok, msg):
    note("check" if ok else "check failed", msg)
    print(("ok: " if ok else "FAIL: ") + msg, flush=True)


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


# ---- The replicas, Redis and the file system ----------------------------------------------

class Server:
    def __init__(self, name, offload, port=None, redis_port=None):
        self.name, self.offload, self.redis_port = name, offload, redis_port
        self.port = port or free_port()
        self.log = open(os.path.join(WORK, name + ".log"), "a+")
        self.start()

    def start(self):
        env = dict(os.environ)
        args = [BIN, "serve", "--model", MODEL, "--host", "127.0.0.1", "--port", str(self.port),
                "--served-model-name", "torture", "--max-model-len", str(MAX_MODEL_LEN),
                "--threads", "1", "--kv-cache-memory", "64M",
                # all 64 clients connect from 127.0.0.1: no per-address cap (docs/security.md)
                "--max-connections-per-ip", "0"]
        if self.offload:
            env.update(LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU="True",
                       LMCACHE_MAX_LOCAL_CPU_SIZE="0.001", LMCACHE_LOCAL_DISK="file://" + CACHE,
                       LMCACHE_MAX_LOCAL_DISK_SIZE="0.03",
                       # stores wait for the directory's eviction; a 32 MB queue sheds the
                       # rest where the 1 GB default would let RSS grow by it
                       LMCACHE_MAX_WRITE_QUEUE_SIZE="0.03125")
            if self.redis_port:
                env["LMCACHE_REMOTE_URL"] = "redis://127.0.0.1:%d" % self.redis_port
            if os.path.exists(FAKETIME):
                env.update(LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=CLOCK_FILE,
                           FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
            args += ["--kv-transfer-config", KVT, "--kv-offload-always-load"]
        self.p = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log)
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
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def proc(self, what):
        return "/proc/%d/%s" % (self.p.pid, what)

    def rss_kb(self):
        with open(self.proc("status")) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(self.proc("fd")))

    def metric(self, name, tier):
        st, raw = self.request("GET", "/metrics", timeout=30)
        for line in raw.decode().splitlines():
            if line.startswith(name + "{") and 'tier="%s"' % tier in line:
                return int(float(line.rsplit(" ", 1)[1]))
        return 0


def mount_tmpfs():
    os.makedirs(MNT, exist_ok=True)
    r = sh("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", MNT)
    if r.returncode != 0:
        return "mount tmpfs: " + (r.stderr.strip() or "rc %d" % r.returncode)
    os.makedirs(os.path.join(CACHE, "v1"), mode=0o700, exist_ok=True)
    return None


def remount(opts):
    """remount with opts; EBUSY while a writer has a file open, so a few tries."""
    for _ in range(100):
        r = sh("mount", "-o", "remount," + opts, MNT)
        if r.returncode == 0:
            return None
        time.sleep(0.05)
    return r.stderr.strip()


# ---- The load ---------------------------------------------------------------------------

_w = random.Random(7)
WORDS = ["".join(_w.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_w.randint(2, 8)))
         for _ in range(300)]
DOCS = [" ".join(_w.choice(WORDS) for _ in range(160)) for _ in range(4)]
PROBES = []
for d in range(4):
    for cut in (300, 600):
        PROBES.append(("/v1/completions", {"prompt": DOCS[d][:cut] + " so"}))
    PROBES.append(("/v1/chat/completions",
                   {"messages": [{"role": "system", "content": DOCS[d][:500]},
                                 {"role": "user", "content": "and then?"}]}))


def probe_body(i):
    path, body = PROBES[i]
    return path, dict(body, max_tokens=8, temperature=0)


def answer_text(raw):
    c = json.loads(raw)["choices"][0]
    return c["message"]["content"] if "message" in c else c["text"]


def random_body(rng, chat):
    if chat:
        body = {"messages": [{"role": "system", "content": rng.choice(DOCS)[:rng.choice([200, 500])]},
                             {"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 20)))}]}
    else:
        body = {"prompt": rng.choice(DOCS)[:rng.choice([100, 300, 600])] + " " +
                " ".join(rng.choices(WORDS, k=rng.randint(0, 30)))}
    body.update(max_tokens=rng.randint(1, 12), temperature=rng.choice([0.5, 1.0]))
    if rng.random() < 0.3:
        body["cache_salt"] = rng.choice(["tenant-a", "tenant-b"])
    return body


def stream(server, path, body, leave_after):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise AssertionError("status %d: %r" % (r.status, r.read()[:300]))
        n = 0
        while True:
            if leave_after is not None and n >= leave_after:
                conn.sock.shutdown(socket.SHUT_RDWR)
                return
            line = r.readline()
            if not line:  # a connection error: the replica went away mid-stream
                raise ConnectionResetError("stream ended without [DONE]")
            line = line.strip()
            if line == b"data: [DONE]":
                return
            if line.startswith(b"data: "):
                ev = json.loads(line[6:])
                if "error" in ev:
                    raise AssertionError("error event %r" % ev)
                n += 1
    finally:
        conn.close()


def client(idx, servers, reference, stop):
    rng = random.Random(1000 + idx)
    while not stop.is_set():
        s = servers[rng.randrange(len(servers))]
        down = s.name == "b" and phase["b_down"]
        try:
            if rng.random() < 0.35:
                i = rng.randrange(len(PROBES))
                path, body = probe_body(i)
                st, raw = s.request("POST", path, body)
                assert st == 200, "status %d: %r" % (st, raw[:300])
                text = answer_text(raw)
                if text != reference[i]:
                    note("wrong", "probe %d on %s: %r, cache off %r" % (i, s.name, text,
                                                                        reference[i]))
                    continue
            else:
                chat = rng.random() < 0.4
                path = "/v1/chat/completions" if chat else "/v1/completions"
                body = random_body(rng, chat)
                if rng.random() < 0.4:
                    body["stream"] = True
                    stream(s, path, body, rng.randint(0, 2) if rng.random() < 0.2 else None)
                else:
                    st, raw = s.request("POST", path, body)
                    assert st == 200, "status %d: %r" % (st, raw[:300])
            note("ok")
        except (OSError, http.client.HTTPException) as e:
            if down or (s.name == "b" and phase["b_down"]):
                note("failed as the fault must")  # the replica is down: refused or reset
                time.sleep(0.05)
            else:
                note("failed", "%s on %s: %r" % (path, s.name, e))
        except (AssertionError, ValueError, KeyError) as e:
            note("failed", "%s on %s: %r" % (path, s.name, e))


def sample(servers, series, stop):
    t0 = time.monotonic()
    while not stop.wait(2):
        for s in servers:
            if s.p.poll() is None:
                series.setdefault(s.name, []).append((time.monotonic() - t0, s.rss_kb()))


# ---- The faults ---------------------------------------------------------------------------

def fault_enospc(ctx):
    filler = os.path.join(MNT, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    time.sleep(PHASE_S)
    os.unlink(filler)


def fault_readonly(ctx):
    why = remount("ro")
    if why:
        skipped.append("readonly: remount ro: %s" % why)
        time.sleep(PHASE_S)
        return
    time.sleep(PHASE_S)
    why = remount("rw")
    if why:
        raise SystemExit("remount rw failed: %s" % why)


def fault_unmount(ctx):
    r = sh("umount", "-l", MNT)
    if r.returncode != 0:
        skipped.append("unmount: %s" % r.stderr.strip())
        time.sleep(PHASE_S)
        return
    time.sleep(PHASE_S / 2)
    why = mount_tmpfs()
    if why:
        raise SystemExit(why)
    time.sleep(PHASE_S / 2)


def fault_redis(ctx):
    if not ctx["redis"]:
        skipped.append("redis: no redis-server")
        time.sleep(PHASE_S)
        return
    ctx["redis"].kill()
    time.sleep(PHASE_S / 2)
    ctx["redis"].start()
    time.sleep(PHASE_S / 2)


def fault_replica(ctx):
    b = ctx["servers"][1]
    phase["b_down"] = True
    b.p.kill()
    b.p.wait()
    time.sleep(PHASE_S / 2)
    b.start()
    phase["b_down"] = False
    ctx["fds_b"] = b.fds()
    time.sleep(PHASE_S / 2)


def fault_corrupt(ctx):
    """A fresh replica c, whose RAM holds nothing, reads the directory while bytes of the
    objects it is about to read are overwritten: each must be found and recomputed."""
    rng = random.Random(5)
    c = Server("c", True, redis_port=ctx["redis"] and ctx["redis"].port)
    ctx["servers"].append(c)
    deadline = time.monotonic() + PHASE_S
    hit = 0
    while time.monotonic() < deadline:
        objs = []
        for d, _, fs in os.walk(CACHE):
            for f in fs:
                try:
                    if f.endswith(".kvc"):
                        objs.append((os.path.getmtime(os.path.join(d, f)), os.path.join(d, f)))
                except OSError:
                    pass
        # Most of the directory is damaged by the end of the phase, so c reads damage.
        for _, path in rng.sample(objs, min(len(objs), max(24, len(objs) // 4))):
            try:
                size = os.path.getsize(path)
                with open(path, "r+b") as f:
                    at = rng.randrange(size)
                    f.seek(at)
                    old = f.read(1)
                    f.seek(at)
                    f.write(bytes([old[0] ^ rng.randrange(1, 256)]))
                hit += 1
            except OSError:
                pass  # evicted meanwhile
        time.sleep(0.05)
    ctx["servers"].remove(c)
    time.sleep(2)  # c's requests in flight finish
    ctx["corrupted"] = hit
    ctx["found"] = sum(c.metric("kvspill_offload_tier_corrupt_objects_total", t)
                       for t in ("local_disk", "redis"))
    ctx["c_disk_hits"] = c.metric("kvspill_offload_tier_hits_total", "local_disk")
    c.p.send_signal(signal.SIGTERM)
    check(c.p.wait(timeout=60) == 0, "replica c exits 0 on SIGTERM")
    # What nobody read is still damaged: the operator's tool finds and removes it.
    v = sh(BIN, "cache", "verify", "--remove", CACHE)
    check(v.returncode in (0, 1) and " damaged" in v.stdout,
          "cache verify --remove after the corruption: " + v.stdout.strip().splitlines()[-1]
          if v.stdout.strip() else v.stderr.strip())


def fault_clock(ctx):
    if not os.path.exists(FAKETIME):
        skipped.append("clock: %s not installed (Debian's libfaketime)" % FAKETIME)
        time.sleep(PHASE_S)
        return
    with open(CLOCK_FILE, "w") as f:
        f.write("+1h\n")
    time.sleep(PHASE_S / 2)
    with open(CLOCK_FILE, "w") as f:
        f.write("+0\n")
    time.sleep(PHASE_S / 2)


# The tier whose error counters show that a fault took effect.
EVIDENCE = {"enospc": "local_disk", "readonly": "local_disk", "unmount": "local_disk",
            "redis": "redis"}


def tier_errors(servers, tier):
    return sum(s.metric("kvspill_offload_tier_%s_total" % m, tier) for s in servers
               if s.p.poll() is None for m in ("put_errors", "get_errors", "timeouts"))


PHASES = [("baseline", lambda ctx: time.sleep(PHASE_S)), ("enospc", fault_enospc),
          ("readonly", fault_readonly), ("unmount", fault_unmount), ("redis", fault_redis),
          ("replica", fault_replica), ("corrupt", fault_corrupt), ("clock", fault_clock)]


def main():
    if os.geteuid() != 0:
        print("SKIP: torture mounts a tmpfs and needs root")
        return 77
    with open(CLOCK_FILE, "w") as f:
        f.write("+0\n")
    why = mount_tmpfs()
    if why:
        print("SKIP: " + why)
        return 77
    # What a cache-off server answers is the truth every answer is held to.
    ref = Server("reference", offload=False)
    reference = []
    for i in range(len(PROBES)):
        path, body = probe_body(i)
        st, raw = ref.request("POST", path, body)
        assert st == 200, raw
        reference.append(answer_text(raw))
    ref.p.send_signal(signal.SIGTERM)
    ref.p.wait()

    redis = None
    if redis_available():
        redis = Redis()
    else:
        skipped.append("redis tier: no redis-server")
    servers = [Server("a", True, redis_port=redis and redis.port),
               Server("b", True, redis_port=redis and redis.port)]
    ctx = {"servers": servers, "redis": redis}
    fds0 = {s.name: s.fds() for s in servers}
    series, stop, sampler_stop = {}, threading.Event(), threading.Event()
    threads = [threading.Thread(target=client, args=(i, servers, reference, stop))
               for i in range(CLIENTS)]
    sampler = threading.Thread(target=sample, args=(servers, series, sampler_stop))
    try:
        for t in threads + [sampler]:
            t.start()
        for name, fault in PHASES:
            with lock:
                phase["name"] = name
            print("torture: phase %s (%d s)" % (name, PHASE_S), flush=True)
            tier = EVIDENCE.get(name)
            errors0 = tier_errors(servers, tier) if tier else 0
            n_skipped = len(skipped)
            fault(ctx)
            time.sleep(2)  # requests started under the fault finish under it
            if tier and len(skipped) == n_skipped:
                errors = tier_errors(servers, tier) - errors0
                check(errors > 0, "%s: the %s tier reported %d failed operations (the fault "
                      "took effect; every request was still served)" % (name, tier, errors))
            if name == "corrupt":
                check(ctx["found"] > 0 and ctx["c_disk_hits"] > 0,
                      "corrupt: %d bytes overwritten; the fresh replica loaded %d chunks from "
                      "the directory and found %d damaged objects" %
                      (ctx["corrupted"], ctx["c_disk_hits"], ctx["found"]))
        stop.set()
        for t in threads:
            t.join()
        time.sleep(3)
        sampler_stop.set()
        sampler.join()
        for s in servers:
            check(s.p.poll() is None, "replica %s alive at the end" % s.name)
        fds_a = servers[0].fds()
        check(fds_a <= fds0["a"] + FD_SLACK,
              "replica a: %d open descriptors before, %d after" % (fds0["a"], fds_a))
        if "fds_b" in ctx:
            fds_b = servers[1].fds()
            check(fds_b <= ctx["fds_b"] + FD_SLACK,
                  "replica b (restarted): %d open descriptors after restart, %d at the end" %
                  (ctx["fds_b"], fds_b))
        warm = PHASE_S  # the baseline phase is the warm-up
        for name, pts in sorted(series.items()):
            after = [p for p in pts if p[0] >= warm]
            growth = (max(p[1] for p in after) - after[0][1]) if after else 0
            print("torture: replica %s RSS %d -> %d kB, slope %+.0f kB/min after warm-up" %
                  (name, pts[0][1], pts[-1][1], slope_kb_per_min(after)))
            check(growth <= RSS_GROWTH_MB * 1024,
                  "replica %s RSS grew %d kB after warm-up (limit %d MB)" %
                  (name, growth, RSS_GROWTH_MB))
        for s in servers:
            s.p.send_signal(signal.SIGTERM)
            try:
                rc = s.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                rc = "no exit in 60 s"
            check(rc == 0, "replica %s exits 0 on SIGTERM (%s)" % (s.name, rc))
        v = sh(BIN, "cache", "verify", CACHE)
        check(v.returncode == 0, "cache verify after the run: %s" % (v.stdout.strip() or
                                                                       v.stderr.strip()))
    finally:
        stop.set()
        for s in servers:
            if s.p.poll() is None:
                s.p.kill()
        if redis:
            redis.kill()
        sh("umount", "-l", MNT)
    for name, _ in PHASES:
        p = per_phase.get(name, {})
        print("torture: %-9s %s" % (name, ", ".join("%s %d" % kv for kv in sorted(p.items()))))
    for s in skipped:
        print("torture: skipped: " + s)
    for f in failures:
        print("  " + f)
    print("%d passed, %d failed" % (totals["passed"], totals["failed"]))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
