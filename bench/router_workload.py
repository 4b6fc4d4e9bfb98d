#!/usr/bin/python3
"""`make bench-router`: 3 `kvspill serve` replicas on loopback, each with its own host-RAM
tier and one shared file tier, behind `kvspill router`, replaying a multi-turn chat of
USERS users (a long system prompt shared by all, growing histories) once per routing logic.
Every logic starts from fresh replicas and an empty shared directory. Prints, per logic:
TTFT p50/p99 (streamed, to the first content byte), turns per second, the share of prompt
tokens served from a cache (usage.prompt_tokens_details.cached_tokens) and the host-RAM
hit share (the replicas' prefix caches and mem tiers, from /metrics), then each logic's
TTFT p50 against roundrobin's, measured in the same run.

usage: bench/router_workload.py KVSPILL_BIN [USERS] [TURNS]
environment: ROUTER_BENCH_USER_WORDS (150), ROUTER_BENCH_SHARED (1; 0: no shared tier),
ROUTER_BENCH_LOGICS (a comma-separated subset of the logics; roundrobin first),
ROUTER_BENCH_BASELINE (another kvspill binary: each logic is run with it, then with
KVSPILL_BIN, side by side in one run; its rows are marked "(baseline)" and their ratios
are to its own roundrobin), ROUTER_BENCH_REPEATS (1: every logic runs that many times,
the logics interleaved in each repetition; then a summary per logic of the medians, with
ranges, and the median over repetitions of its p50 against the same repetition's
roundrobin)"""
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support"))
from kvspill_server import KV_TRANSFER, free_port  # noqa: E402

USER_WORDS = int(os.environ.get("ROUTER_BENCH_USER_WORDS", "150"))
# ROUTER_BENCH_SHARED=0: host RAM only, no shared file tier (what a replica's RAM lacks is
# then recomputed, the case cache-aware routing is for).
SHARED_TIER = os.environ.get("ROUTER_BENCH_SHARED", "1") != "0"
LOGICS = os.environ.get("ROUTER_BENCH_LOGICS", "roundrobin,session,prefixaware,kvaware").split(",")
BASELINE = os.environ.get("ROUTER_BENCH_BASELINE")
REPEATS = int(os.environ.get("ROUTER_BENCH_REPEATS", "1"))
SYSTEM = ("You are the operator's assistant for a cluster of inference replicas that share "
          "their KV cache through host memory, local disks and a shared file system. ") * 12


def wait_up(url, proc, log):
    for _ in range(600):
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit("not up: %s\n%s" % (url, open(log).read()))
        time.sleep(0.1)
    sys.exit("not up: " + url)


def start(args, env, log):
    e = dict(os.environ)
    e.update(env)
    return subprocess.Popen(args, env=e, stderr=open(log, "w"))


def metric_sum(url, name, tier=None):
    raw = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    total = 0.0
    for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), raw, re.M):
        if tier is None or ('tier="%s"' % tier) in (m.group(1) or ""):
            total += float(m.group(2))
    return total


def chat_turn(router, user, messages):
    """Streams one turn; returns (ttft seconds, reply text, usage)."""
    body = {"messages": messages, "max_tokens": 8, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "user": user}
    req = urllib.request.Request(router + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "x-user": user})
    t0 = time.monotonic()
    ttft, text, usage = None, "", {}
    with urllib.request.urlopen(req, timeout=300) as r:
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            ev = json.loads(line[6:])
            if ev.get("usage"):
                usage = ev["usage"]
            for c in ev.get("choices", []):
                piece = c.get("delta", {}).get("content")
                if piece:
                    if ttft is None:
                        ttft = time.monotonic() - t0
                    text += piece
    return (ttft if ttft is not None else time.monotonic() - t0), text, usage


WORDS = ("replica chunk prefix cache tier shared disk memory router token layer key block "
         "request stream eviction lease load store latency node volume").split()


def user_text(user, turn):
    """What a user pastes in a turn (a log, a document): USER_WORDS words of its own, so
    that a conversation's history outgrows the system prompt all users share, as an agent's
    tool results do."""
    rng = random.Random(user * 1000 + turn)
    return " ".join(rng.choice(WORDS) for _ in range(USER_WORDS))


def run_logic(kv, model, logic, users, turns, work):
    shared = os.path.join(work, "shared")
    shutil.rmtree(shared, ignore_errors=True)
    os.makedirs(shared)
    procs, urls = [], []
    env = {"LMCACHE_CHUNK_SIZE": "64", "LMCACHE_LOCAL_CPU": "True",
           "LMCACHE_MAX_LOCAL_CPU_SIZE": "0.2"}
    if SHARED_TIER:
        env.update({"LMCACHE_LOCAL_DISK": "file://" + shared, "LMCACHE_MAX_LOCAL_DISK_SIZE": "1"})
    for i in range(3):
        port = free_port()
        log = os.path.join(work, "%s-%d.log" % (logic, i))
        p = start([kv, "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
                   "--threads", "1", "--max-model-len", "4096", "--max-connections-per-ip", "0",
                   "--kv-transfer-config", KV_TRANSFER], env, log)
        procs.append(p)
        urls.append("http://127.0.0.1:%d" % port)
        wait_up(urls[-1], p, log)
    rport = free_port()
    rlog = os.path.join(work, "%s-router.log" % logic)
    router = start([kv, "router", "--backends", ",".join(urls), "--host", "127.0.0.1",
                    "--port", str(rport), "--routing-logic", logic, "--session-key", "x-user",
                    # The replicas' tokenizer and template: prefixaware routes on chunk keys.
                    "--model", model, "--health-interval-ms", "500"], {}, rlog)
    procs.append(router)
    rurl = "http://127.0.0.1:%d" % rport
    wait_up(rurl, router, rlog)
    ttfts, cached, prompt = [], [0], [0]
    lock = threading.Lock()
    errors = []

    def user_loop(u):
        msgs = [{"role": "system", "content": SYSTEM}]
        try:
            for t in range(turns):
                msgs.append({"role": "user", "content": "User %d, turn %d: how are the chunks "
                             "of conversation %d placed on the replicas? Here is my log:\n%s"
                             % (u, t, u, user_text(u, t))})
                ttft, text, usage = chat_turn(rurl, "user-%d" % u, msgs)
                msgs.append({"role": "assistant", "content": text})
                with lock:
                    ttfts.append(ttft)
                    prompt[0] += usage.get("prompt_tokens", 0)
                    cached[0] += (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        except Exception as e:  # counted and reported: a failed turn is a failed benchmark
            with lock:
                errors.append("user %d: %r" % (u, e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=user_loop, args=(u,)) for u in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    apc_hits = sum(metric_sum(u, "kvspill_prefix_cache_hits_total") for u in urls)
    apc_queries = sum(metric_sum(u, "kvspill_prefix_cache_queries_total") for u in urls)
    mem_hits = sum(metric_sum(u, "kvspill_offload_tier_hits_total", "mem") for u in urls)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
    if errors:
        sys.exit("%s: %d failed turns: %s" % (logic, len(errors), errors[:3]))
    ttfts.sort()
    return {"logic": logic, "turns": len(ttfts), "ttft_p50_s": statistics.median(ttfts),
            "ttft_p99_s": ttfts[min(len(ttfts) - 1, int(0.99 * len(ttfts)))],
            "turns_per_s": len(ttfts) / wall, "cached_share": cached[0] / max(prompt[0], 1),
            "apc_hit_share": apc_hits / max(apc_queries, 1), "mem_tier_hits": int(mem_hits)}


def main():
    kv = os.path.abspath(sys.argv[1])
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    turns = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    work = tempfile.mkdtemp(prefix="kvspill-router-bench-")
    try:
        model = os.path.join(work, "model.gguf")
        subprocess.run([kv, "model", "gen", "--out", model, "--layers", "4", "--dim", "256",
                        "--heads", "4", "--kv-heads", "2", "--ff", "768", "--type", "f16",
                        "--ctx", "4096"], check=True, stdout=subprocess.DEVNULL)
        print("load average: %s" % open("/proc/loadavg").read().split()[:3])
        rows = []
        for rep in range(REPEATS):
            for lg in LOGICS:
                if BASELINE:
                    rows.append(run_logic(os.path.abspath(BASELINE), model, lg, users, turns, work))
                    rows[-1]["logic"] += " (baseline)"
                    rows[-1]["rep"] = rep
                rows.append(run_logic(kv, model, lg, users, turns, work))
                rows[-1]["rep"] = rep
        print("load average after: %s" % open("/proc/loadavg").read().split()[:3])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = {}  # per repetition and binary: the first logic's p50 (roundrobin's)
    for r in rows:
        r["p50_ratio"] = r["ttft_p50_s"] / base.setdefault(
            (r["rep"], r["logic"].endswith("(baseline)")), r["ttft_p50_s"])
    print("| logic | turns | TTFT p50 ms | TTFT p99 ms | turns/s | cached share | prefix-cache "
          "hit share | mem-tier hits | p50 / roundrobin |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %d | %.2f |" % (
            r["logic"], r["turns"], 1e3 * r["ttft_p50_s"], 1e3 * r["ttft_p99_s"],
            r["turns_per_s"], r["cached_share"], r["apc_hit_share"], r["mem_tier_hits"],
            r["p50_ratio"]))
    if REPEATS > 1:
        print("\nMedians over %d repetitions [min-max]; the last column is the median of each "
              "repetition's p50 / that repetition's roundrobin p50:" % REPEATS)
        print("| logic | TTFT p50 ms | TTFT p99 ms | turns/s | cached share | p50 / roundrobin |")
        print("|---|---|---|---|---|---|")
        for lg in dict.fromkeys(r["logic"] for r in rows):
            mine = [r for r in rows if r["logic"] == lg]

            def span(key, scale=1.0, fmt="%.1f"):
                v = sorted(scale * r[key] for r in mine)
                return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(v), v[0], v[-1])
            print("| %s | %s | %s | %s | %.2f | %s |" % (
                lg, span("ttft_p50_s", 1e3), span("ttft_p99_s", 1e3),
                span("turns_per_s", fmt="%.2f"),
                statistics.median(r["cached_share"] for r in mine), span("p50_ratio", fmt="%.2f")))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
