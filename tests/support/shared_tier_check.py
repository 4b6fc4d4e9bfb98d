#!/usr/bin/python3
"""Three `kvspill serve` replicas sharing one cache directory, as the seed's replicas share
the ReadWriteMany volume at /mnt/gds. Run by tests/integration/test_shared_tier.sh on a local
directory and by test_shared_tier_nfs.sh on an NFS v4.2 mount over loopback.

  1. Cross-replica hits: a prompt computed by replica a is loaded by b and c from the shared
     directory (their host RAM and prefix caches are their own), token for token as a
     cache-off server answers it.
  2. Eviction under the lease: the replicas write several times the tier's capacity at
     once and evict, one at a time under <root>/v1/.evict.lease; the directory stays within
     its bound, the lease is given back once they are idle, `kvspill cache verify` finds no
     damaged object, and an object written by one replica after the eviction is still
     loaded exactly by another.
  3. Writers killed mid-object: rounds of helper_file_writer processes SIGKILLed at random
     points; every object a reader gets is exact (absent is fine), `cache verify` passes and
     `cache gc --orphan-age 0` removes every temporary file they left.

usage: shared_tier_check.py DIR   (environment: KVSPILL_BIN, KVSPILL_TEST_BIN_DIR, MODEL, TMP)"""
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvspill_server import KV_TRANSFER, Server, same  # noqa: E402

DIR = sys.argv[1]
BIN, MODEL, TMP = os.environ["KVSPILL_BIN"], os.environ["MODEL"], os.environ["TMP"]
WRITER = os.path.join(os.environ["KVSPILL_TEST_BIN_DIR"], "helper_file_writer")
CHUNK = 64
CAPACITY_GB = 0.004  # ~4 MB: a few dozen of the tiny model's chunks
BOUND = 1.25  # the writers' slack between scans, as scripts/soak.py allows
rng = random.Random(11)


def replica(name, cache_dir):
    args = ["--model", MODEL, "--device", "cpu", "--threads", "1", "--max-model-len", "2048",
            "--kv-cache-memory", "32M", "--no-enable-prefix-caching"]
    env = {}
    if cache_dir:
        args += ["--kv-transfer-config", KV_TRANSFER, "--kv-offload-always-load"]
        env = dict(LMCACHE_CHUNK_SIZE=str(CHUNK), LMCACHE_LOCAL_CPU="false",
                   LMCACHE_LOCAL_DISK="file://" + cache_dir,
                   LMCACHE_MAX_LOCAL_DISK_SIZE=str(CAPACITY_GB))
    return Server(name, args, env, TMP)


def prompt(n):
    return [1] + [rng.randrange(3, 32000) for _ in range(n - 1)]


def cache_cli(*args):
    r = subprocess.run([BIN, "cache"] + list(args), capture_output=True, text=True)
    assert r.returncode == 0, ("cache", args, r.stdout, r.stderr)
    return r.stdout


def object_bytes(root):
    """The bytes of the objects under root, as `kvspill cache stat` counts them."""
    m = re.search(r"^total: .*?\d+ objects, (\d+) bytes", cache_cli("stat", root), re.M)
    assert m, "cache stat printed no total"
    return int(m.group(1))


cache = os.path.join(DIR, "cache")
os.mkdir(cache)
ref = replica("ref", None)
reps = [replica(n, cache) for n in "abc"]
a, b, c = reps
try:
    # 1. Cross-replica hits.
    P = prompt(8 * CHUNK + 21)
    want, cached = ref.complete(P)
    got, cached = a.complete(P)
    same(want, got, "replica a computing")
    assert cached == 0, cached
    a.settle()
    for r in (b, c):
        got, cached = r.complete(P)
        same(want, got, "replica %s loading a's chunks" % r.name)
        assert cached == 8 * CHUNK, (r.name, cached)
        assert r.metric("kvspill_offload_tier_hits_total", "local_disk") >= 8, r.name
    print("cross-replica: b and c loaded a's 8 chunks, outputs equal the cache-off server's")

    # 2. Eviction under the lease: each replica writes ~4x the capacity concurrently.
    errors = []

    def fill(r, n):
        try:
            for _ in range(n):
                r.complete(prompt(6 * CHUNK + 5))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("%s: %s" % (r.name, e))

    per_chunk = os.stat(next(os.path.join(d, f) for d, _, fs in os.walk(cache)
                             for f in fs if f.endswith(".kvc"))).st_size
    capacity = int(CAPACITY_GB * (1 << 30))
    n_prompts = max(4, 4 * capacity // (6 * per_chunk) // len(reps))
    threads = [threading.Thread(target=fill, args=(r, n_prompts)) for r in reps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for r in reps:
        r.settle()
    evicted = sum(r.metric("kvspill_offload_tier_evictions_total", "local_disk") for r in reps)
    held = object_bytes(cache)
    assert evicted > 0, "no replica evicted"
    assert held <= capacity * BOUND, (held, capacity)
    # The evictor gives its lease back when done: a lease left by an idle replica would keep
    # the others from evicting until it expired.
    lease = os.path.join(cache, "v1", ".evict.lease")
    for _ in range(100):
        if not os.path.exists(lease):
            break
        time.sleep(0.05)
    assert not os.path.exists(lease), "eviction lease still held by an idle replica"
    cache_cli("verify", cache)
    Q = prompt(5 * CHUNK + 7)
    want, _ = ref.complete(Q)
    got, _ = c.complete(Q)
    same(want, got, "replica c computing after eviction")
    c.settle()
    got, cached = a.complete(Q)
    same(want, got, "replica a loading c's chunks after eviction")
    assert cached == 5 * CHUNK, cached
    print("eviction: %d replicas wrote %d chunks of %d bytes into %d bytes of capacity; "
          "%d evicted, %d bytes held (bound %.2fx), verify clean, loads still exact"
          % (len(reps), 3 * n_prompts * 6, per_chunk, capacity, evicted, held, BOUND))
finally:
    Server.kill_all()

# 3. Writers killed mid-object.
writers_dir = os.path.join(DIR, "writers")
os.mkdir(writers_dir)
kills = 0
for _ in range(12):
    procs = [subprocess.Popen([WRITER, "loop", writers_dir, "16"]) for _ in range(3)]
    time.sleep(rng.uniform(0.02, 0.3))
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
    r = subprocess.run([WRITER, "check", writers_dir, "0", "50", "16"], capture_output=True,
                       text=True)
    assert r.returncode == 0, ("a reader got a damaged or partial object", r.stdout, r.stderr)
def temps():
    return [f for _, _, fs in os.walk(writers_dir) for f in fs if f.endswith(".tmp")]


cache_cli("verify", writers_dir)
left = len(temps())
cache_cli("gc", writers_dir, "--max-size", "100G", "--orphan-age", "0")
assert not temps(), temps()
cache_cli("verify", writers_dir)
print("killed writers: %d SIGKILLs, every object read exact, cache gc removed the %d temp "
      "files they left" % (kills, left))
