#!/bin/bash
# The chat page and the dashboard in Debian's headless chromium, driven over the DevTools
# protocol (tests/support/cdp.py): the key is asked for on 401 (a wrong one is refused
# with the server's message), a long message gets a streamed reply, the follow-up says
# "cached N tokens (host RAM)"; after a restart with only the file tier, a reload keeps
# the conversation and the next turn names the local disk; the server's error for a
# request past the context is shown; Stop cancels the request on the server (its
# running-requests gauge falls to 0 long before max_tokens); the dashboard's hit
# counters move. Screenshots go to $KVSPILL_WEB_SHOTS (default: the temporary folder).
set -euo pipefail
command -v chromium >/dev/null || { echo "SKIP: chromium not installed"; exit 77; }
# Under ASan the server's answers slow down unevenly and the page's timed steps (Stop
# midway) flake; the server side of the page runs sanitized in test_server_web.
[ -z "${KVSPILL_SANITIZED:-}" ] || { echo "SKIP: the browser test runs in the optimised build"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Big enough that a long reply takes seconds on the CPU (the Stop step), small to load.
"$KVSPILL_BIN" model gen --out "$TMP/m.gguf" --layers 4 --dim 256 --ff 512 --ctx 8192 >/dev/null

TMP="$TMP" SHOTS="${KVSPILL_WEB_SHOTS:-$TMP}" python3 - <<'PY'
import json, os, re, sys, time, urllib.request
sys.path.insert(0, os.environ["KVSPILL_SOURCE_DIR"] + "/tests/support")
from kvspill_server import KV_TRANSFER, Server, free_port
from cdp import Browser

TMP, SHOTS, KEY, PORT = os.environ["TMP"], os.environ["SHOTS"], "sekret", free_port()

def serve(name, mem):
    env = dict(LMCACHE_CHUNK_SIZE="16", LMCACHE_LOCAL_CPU=str(mem).lower(),
               LMCACHE_MAX_LOCAL_CPU_SIZE="0.05", LMCACHE_LOCAL_DISK="file://" + TMP + "/cache",
               LMCACHE_MAX_LOCAL_DISK_SIZE="1")
    return Server(name, ["--model", TMP + "/m.gguf", "--device", "cpu", "--threads", "2",
                         "--max-model-len", "8192", "--kv-cache-memory", "64M", "--api-key", KEY,
                         "--kv-transfer-config", KV_TRANSFER, "--kv-offload-always-load",
                         "--no-enable-prefix-caching"], env, TMP, port=PORT)

def reply_stats(b, n):
    """The stats line under the n-th reply once it is there."""
    return b.wait("(() => { const s = document.querySelectorAll('#messages li.assistant .stats')[%d];"
                  " return s && s.textContent.includes('prompt tokens') && s.textContent; })()" % n, 60)

def send(b, text):
    b.type_into("#prompt", text)
    b.click("#send")

LONG = ("Explain how a key-value cache makes the second turn of a chat fast, with an example "
        "in C, and say what happens when the prefix is on disk instead of in memory. ") * 4

s = serve("a", mem=True)
b = Browser(TMP)
try:
    b.goto(s.url + "/")
    # The key is asked for on the first 401; a wrong one is refused with the server's message.
    b.wait("document.getElementById('key-dialog').open")
    b.type_into("#key-input", "wrong")
    b.click("#key-ok")
    msg = b.wait("document.getElementById('key-dialog').open &&"
                 " document.getElementById('key-message').textContent")
    assert "refused" in msg and "API key" in msg, msg
    b.type_into("#key-input", KEY)
    b.click("#key-ok")
    b.wait("document.getElementById('model').textContent")
    b.type_into("#max-tokens", "24")
    b.type_into("#temperature", "0")

    # A long message: the reply streams in (its element changes several times).
    b.eval("window.updates = 0; new MutationObserver(() => window.updates++)"
           ".observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true})")
    send(b, LONG)
    first = reply_stats(b, 0)
    assert "no cached tokens" in first, first
    assert b.eval("window.updates") > 3, b.eval("window.updates")
    assert b.eval("document.querySelector('#messages li.assistant .reply').textContent.length") > 0

    send(b, "And what if the disk is shared between nodes?")
    second = reply_stats(b, 1)
    m = re.search(r"cached (\d+) tokens \(host RAM\)", second)
    assert m and int(m.group(1)) > 0, second
    b.screenshot(SHOTS + "/web-chat.png")
    s.settle()
    s.stop()

    # Restarted with only the file tier: the page reloads its conversation, the disk serves.
    s = serve("b", mem=False)
    b.goto(s.url + "/")
    assert b.wait("document.querySelectorAll('#messages li.assistant').length") == 2
    send(b, "Thanks. One more question about eviction?")
    third = reply_stats(b, 2)
    assert re.search(r"cached (\d+) tokens \(local disk\)", third), third

    # The server's error is shown: max tokens past the model's context.
    b.type_into("#max-tokens", "100000")
    send(b, "Please write a very long story.")
    err = b.wait("!document.getElementById('error').hidden && document.getElementById('error').textContent")
    assert "max" in err.lower() and ("8192" in err or "context" in err.lower()), err

    # Stop midway: the server cancels the request.
    b.type_into("#max-tokens", "4000")
    def metric(name):
        return s.metric(name)
    # The random model may end its reply on its own before Stop is clicked (an end token):
    # then the reply is not stopped and the step is tried again, at most three times.
    last_stopped = ("(() => { const s = document.querySelectorAll('#messages li.assistant .stats');"
                    " return s.length && s[s.length - 1].textContent.includes('stopped'); })()")
    for attempt in range(3):
        send(b, "Tell me a long story about caches.")
        # streaming more than 20 characters, or already over (its stats line is written)
        b.wait("(() => { const r = document.querySelectorAll('#messages li.assistant .reply');"
               " const s = document.querySelectorAll('#messages li.assistant .stats');"
               " return (r[r.length - 1].textContent.length > 20 ||"
               " s[s.length - 1].textContent.length > 0); })()", 60)
        if metric("kvspill_num_requests_running") != 1:
            continue  # it ended before Stop could be clicked
        b.click("#stop")
        for _ in range(200):
            if metric("kvspill_num_requests_running") == 0:
                break
            time.sleep(0.05)
        assert metric("kvspill_num_requests_running") == 0
        generated = metric("kvspill_generation_tokens_total")
        time.sleep(0.3)
        assert metric("kvspill_generation_tokens_total") == generated  # nothing runs on
        try:
            b.wait(last_stopped, 5)
            break
        except AssertionError:
            continue  # the reply had ended on its own just before the click
    else:
        raise AssertionError("no reply was stopped midway in 3 tries")

    # The dashboard: the tiers' rows, and their hit counters move with a repeated prompt.
    b.goto(s.url + "/dashboard")
    hits = "(() => { const r = document.querySelector('#tiers tr[data-tier=local_disk]');" \
           " return r && Number(r.children[3].textContent); })()"
    before = b.wait(hits + " !== null && " + hits + " >= 0 && document.getElementById('running').textContent === '0'")
    before = b.eval(hits)
    body = {"messages": [{"role": "user", "content": LONG}], "max_tokens": 4}
    for _ in range(2):
        req = urllib.request.Request(s.url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + KEY,
                                              "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=60).read()
    b.wait(hits + " > %d" % before, 10)
    time.sleep(2.5)  # a few samples for the plots
    b.screenshot(SHOTS + "/web-dashboard.png")

    # The router's dashboard: one row per replica (here a live one and one that never
    # started), their health and routing share, and the live replica's cache below. The
    # router is another origin: the page asks for the key again.
    dead = "http://127.0.0.1:%d" % free_port()
    rt = Server("router", ["--backends", s.url + "," + dead, "--api-key", KEY,
                           "--health-interval-ms", "300"], {}, TMP, command="router")
    req = urllib.request.Request(rt.url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + KEY,
                                          "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
    b.goto(rt.url + "/dashboard")
    b.wait("document.getElementById('key-dialog').open")
    b.type_into("#key-input", KEY)
    b.click("#key-ok")
    row = "document.querySelector('#replicas tr[data-replica=\"%s\"]')"
    health = b.wait("(() => { const r = %s; return r && r.children[1].textContent; })()" % (row % s.url), 10)
    assert health == "up", health
    assert b.eval("%s.children[1].textContent" % (row % dead)) == "down"
    assert b.eval("%s.children[2].textContent" % (row % s.url)) == "100.0 %"
    b.wait(hits + " > 0", 10)  # the live replica's tiers, shown below
    time.sleep(1.5)
    b.screenshot(SHOTS + "/web-router-dashboard.png")
    rt.stop()
    s.stop()
except BaseException:
    b.screenshot(TMP + "/failed.png")
    print("page:", b.eval("document.getElementById('messages').innerText")[-1500:], file=sys.stderr)
    print("error:", b.eval("document.getElementById('error').textContent"), file=sys.stderr)
    raise
finally:
    b.close()
    Server.kill_all()
print("ok")
PY
