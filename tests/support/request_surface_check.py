"""The OpenAI request surface beyond plain sampling, against a real `kvspill serve` on a
generated random-weight model (tests/integration/test_request_surface.sh): logprobs and
top_logprobs counts and values (log-softmax of `kvspill model logits`), echo with prompt
logprobs (max_tokens 0 scores a prompt), stop strings across token boundaries in streams,
seed reproducibility, n with best_of, stream_options.include_usage,
max_completion_tokens, and /v1/embeddings refused. Usage: MODEL TMPDIR."""
import array
import json
import math
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from kvspill_server import Server  # noqa: E402

TOL = 2e-3  # logprobs: the server's batches against one reference batch, f16 KV both


def post(srv, path, body, status=200):
    req = urllib.request.Request(srv.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            got, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        got, data = e.code, e.read()
    assert got == status, (path, body, got, data[:500])
    return json.loads(data)


def stream(srv, path, body):
    """The chunks of a stream (the usage chunk included), [DONE] checked and dropped."""
    req = urllib.request.Request(srv.url + path, data=json.dumps(dict(body, stream=True)).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        events = [l[6:] for l in r.read().decode().split("\n") if l.startswith("data: ")]
    assert events and events[-1] == "[DONE]", events[-3:]
    return [json.loads(e) for e in events[:-1]]


class Reference:
    """Logprobs of a token sequence from `kvspill model logits` (log-softmax per row)."""

    def __init__(self, model, tmp):
        self.model, self.tmp = model, tmp

    def rows(self, tokens):
        with open(self.tmp + "/ref.tok", "w") as f:
            f.write(" ".join(map(str, tokens)))
        with open(self.tmp + "/ref.pos", "w") as f:
            f.write(" ".join(map(str, range(len(tokens)))))
        subprocess.run([os.environ["KVSPILL_BIN"], "model", "logits", "--model", self.model,
                        "--tokens-file", self.tmp + "/ref.tok", "--positions-file",
                        self.tmp + "/ref.pos", "--out", self.tmp + "/ref.f32", "--kv", "f16",
                        "--threads", "2"], check=True, stdout=subprocess.DEVNULL)
        a = array.array("f")
        a.frombytes(open(self.tmp + "/ref.f32", "rb").read())
        v = len(a) // len(tokens)
        out = []
        for r in range(len(tokens)):
            row = a[r * v:(r + 1) * v]
            mx = max(row)
            norm = mx + math.log(sum(math.exp(x - mx) for x in row))
            out.append([x - norm for x in row])
        return out

    def greedy(self, prompt, n):
        """The greedy continuation of prompt (n tokens) and the log-softmax rows of the
        whole sequence."""
        toks = list(prompt)
        for _ in range(n):
            last = self.rows(toks)[-1]
            toks.append(max(range(len(last)), key=lambda t: (last[t], -t)))
        return toks[len(prompt):], self.rows(toks)


def top_values(row, k):
    return sorted(row, reverse=True)[:k]


def close(a, b):
    return abs(a - b) <= TOL


def top_ids(row, k):
    return sorted(range(len(row)), key=lambda t: (-row[t], t))[:k]


def pieces(srv, ids):
    """The text each token id shows as in completions logprobs (the keys of top_logprobs),
    from the tokens of an echoed prompt of those ids."""
    ids = sorted(set(ids))
    r = post(srv, "/v1/completions", {"prompt": ids, "max_tokens": 0, "echo": True,
                                      "logprobs": 0})
    return dict(zip(ids, r["choices"][0]["logprobs"]["tokens"]))


def check_completion_lp(srv, lp, rows, seq, first, k, what):
    """lp (completions shape) holds seq[first:], token seq[j] with logprob rows[j-1][seq[j]]
    and top_logprobs the k best of that row and the token itself, keyed by their text:
    tokens of the same text (parts of a UTF-8 character, control tokens) share one entry,
    the most likely's."""
    assert len(lp["tokens"]) == len(seq) - first, (what, len(lp["tokens"]), len(seq), first)
    want_ids = {j: top_ids(rows[j - 1], k) + [seq[j]] for j in range(max(first, 1), len(seq))}
    text = pieces(srv, [t for ids in want_ids.values() for t in ids])
    for i, j in enumerate(range(first, len(seq))):
        if j == 0:
            assert lp["token_logprobs"][i] is None and lp["top_logprobs"][i] is None, what
            continue
        row = rows[j - 1]
        assert close(lp["token_logprobs"][i], row[seq[j]]), (what, j, lp["token_logprobs"][i],
                                                             row[seq[j]])
        want = {}
        for t in want_ids[j]:
            want[text[t]] = max(want.get(text[t], -1e30), row[t])
        top = lp["top_logprobs"][i]
        assert len(top) == len(want), (what, j, k, top, want)
        for key, v in top.items():
            assert key in want and close(v, want[key]), (what, j, key, v, want)
    # text_offset counts the characters of the tokens' texts before each, as vLLM does
    toks = lp["tokens"]
    assert lp["text_offset"] == [sum(map(len, toks[:i])) for i in range(len(toks))], \
        (what, lp["text_offset"], toks)


def check_chat_lp(content, rows, seq, first, k, what):
    assert len(content) == len(seq) - first, (what, len(content))
    for i, j in enumerate(range(first, len(seq))):
        row, e = rows[j - 1], content[i]
        assert close(e["logprob"], row[seq[j]]), (what, j, e["logprob"], row[seq[j]])
        assert bytes(e["bytes"]).decode("utf-8", "replace") == e["token"] or "\ufffd" in e["token"]
        assert len(e["top_logprobs"]) == k, (what, j, k, e["top_logprobs"])
        got = [t["logprob"] for t in e["top_logprobs"]]
        assert got == sorted(got, reverse=True), (what, got)
        assert all(close(g, w) for g, w in zip(got, top_values(row, k))), (what, j, got)


def merged_completion_lp(chunks):
    out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for c in chunks:
        for ch in c["choices"]:
            if ch.get("logprobs"):
                for key in out:
                    out[key] += ch["logprobs"][key]
    return out


def chunk_text(chunks, chat=False):
    return "".join((ch["delta"].get("content") or "") if chat else ch["text"]
                   for c in chunks for ch in c["choices"])


def logprobs_cases(srv, ref):
    prompt = [1] + list(range(300, 311))
    gen, rows = ref.greedy(prompt, 5)
    seq = prompt + gen
    for k in (0, 1, 2, 5):
        body = {"prompt": prompt, "max_tokens": 5, "temperature": 0, "logprobs": k}
        r = post(srv, "/v1/completions", body)
        check_completion_lp(srv, r["choices"][0]["logprobs"], rows, seq, len(prompt), k, "cmpl k=%d" % k)
        chunks = stream(srv, "/v1/completions", body)
        m = merged_completion_lp(chunks)
        check_completion_lp(srv, m, rows, seq, len(prompt), k, "cmpl stream k=%d" % k)
        assert m["tokens"] == r["choices"][0]["logprobs"]["tokens"], (m, r)
        assert chunk_text(chunks) == r["choices"][0]["text"]
    msgs = [{"role": "user", "content": "the logprobs of a chat reply"}]
    chat_prompt = post(srv, "/tokenize", {"messages": msgs})["tokens"]
    cgen, crows = ref.greedy(chat_prompt, 4)
    cseq = chat_prompt + cgen
    for k in (0, 1, 2, 5):
        body = {"messages": msgs, "max_tokens": 4, "temperature": 0, "logprobs": True,
                "top_logprobs": k}
        r = post(srv, "/v1/chat/completions", body)
        content = r["choices"][0]["logprobs"]["content"]
        check_chat_lp(content, crows, cseq, len(chat_prompt), k, "chat k=%d" % k)
        chunks = stream(srv, "/v1/chat/completions", body)
        sc = [e for c in chunks for ch in c["choices"] if ch.get("logprobs")
              for e in ch["logprobs"]["content"]]
        check_chat_lp(sc, crows, cseq, len(chat_prompt), k, "chat stream k=%d" % k)
        assert sc == content
    print("ok: logprobs k=0,1,2,5 on both endpoints, whole and streamed, equal log-softmax")


def echo_cases(srv, ref):
    # Over ENGINE_PROMPT_LOGIT_ROWS (64) prompt rows, so over several steps; sent twice
    # so the second could hit the prefix cache, which prompt logprobs must not use.
    prompt = [1] + [100 + (i * 7) % 500 for i in range(149)]
    rows = ref.rows(prompt)
    text = post(srv, "/detokenize", {"tokens": prompt})["prompt"]
    for attempt in range(2):
        r = post(srv, "/v1/completions", {"prompt": prompt, "max_tokens": 0, "echo": True,
                                          "logprobs": 2})
        ch = r["choices"][0]
        assert ch["text"] == text and ch["finish_reason"] == "length", ch["finish_reason"]
        check_completion_lp(srv, ch["logprobs"], rows, prompt, 0, 2, "score %d" % attempt)
        assert r["usage"]["completion_tokens"] == 0, r["usage"]
        assert r["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, r["usage"]
    plain = post(srv, "/v1/completions", {"prompt": prompt, "max_tokens": 4, "temperature": 0})
    assert plain["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, plain["usage"]
    body = {"prompt": prompt, "max_tokens": 4, "temperature": 0, "echo": True, "logprobs": 1}
    r = post(srv, "/v1/completions", body)
    ch = r["choices"][0]
    assert ch["text"] == text + plain["choices"][0]["text"], (ch["text"], plain)
    assert len(ch["logprobs"]["tokens"]) == len(prompt) + 4
    offs, toks = ch["logprobs"]["text_offset"], ch["logprobs"]["tokens"]
    # the generated tokens' offsets start after the echoed prompt's text, in characters
    assert offs[len(prompt)] == len(text), (offs[len(prompt)], len(text))
    assert all(offs[i + 1] - offs[i] == len(toks[i]) for i in range(len(prompt), len(offs) - 1))
    chunks = stream(srv, "/v1/completions", body)
    assert chunk_text(chunks) == ch["text"]
    m = merged_completion_lp(chunks)
    assert m["tokens"] == ch["logprobs"]["tokens"] and m["text_offset"] == ch["logprobs"]["text_offset"]
    assert all(close(a, b) for a, b in zip(m["token_logprobs"][1:], ch["logprobs"]["token_logprobs"][1:]))
    t = post(srv, "/v1/completions", {"prompt": "echo a text prompt", "max_tokens": 2,
                                      "temperature": 0, "echo": True})
    assert t["choices"][0]["text"].startswith("echo a text prompt"), t
    post(srv, "/v1/completions", {"prompt": prompt, "max_tokens": 0}, 400)
    print("ok: echo, prompt logprobs over %d tokens (no prefix-cache hit), max_tokens 0 scores" %
          len(prompt))


def boundary_stop(text, toks):
    """A string of text across the boundary of two tokens (pieces toks) that first occurs
    there, or None; only before the first part of a character, where pieces and text agree."""
    at = 0
    for j in range(len(toks) - 1):
        a, b = toks[j], toks[j + 1]
        if "\ufffd" in a + b:
            return None
        at += len(a)
        cand = a[-2:] + b[:2]
        if len(cand) >= 3 and text.find(cand) == at - len(a[-2:]):
            return cand
    return None


def stop_cases(srv):
    for first in range(400, 600, 7):
        base = {"prompt": [1, first, first + 1], "max_tokens": 24, "temperature": 0,
                "logprobs": 0}
        r = post(srv, "/v1/completions", base)
        text = r["choices"][0]["text"]
        stop = boundary_stop(text, r["choices"][0]["logprobs"]["tokens"])
        if stop:
            break
    assert stop, "no greedy text with a stop string across a token boundary"
    want = text[:text.find(stop)]
    whole = post(srv, "/v1/completions", dict(base, stop=[stop]))["choices"][0]
    assert whole["text"] == want and whole["finish_reason"] == "stop", (whole, want, stop)
    for path, chat in (("/v1/completions", False), ("/v1/chat/completions", True)):
        body = dict(base, stop=[stop])
        if chat:
            del body["prompt"], body["logprobs"]
            body["messages"] = [{"role": "user", "content": "stop"}]
            free = post(srv, path, dict(body, stop=None))["choices"][0]["message"]["content"]
            cut = next((free[i:i + 4] for i in range(2, len(free) - 4)
                        if "\ufffd" not in free[i:i + 4] and free.find(free[i:i + 4]) == i), None)
            assert cut, free
            body["stop"] = [cut]
            want_c = free[:free.find(cut)]
        chunks = stream(srv, path, body)
        got = chunk_text(chunks, chat)
        assert got == (want_c if chat else want), (path, got, want, stop)
        fin = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
        assert fin == ["stop"], fin
    print("ok: stop %r across a token boundary: streams end as the whole text" % stop)


def seed_cases(srv):
    body = {"prompt": [1, 500, 501], "max_tokens": 16, "temperature": 1, "seed": 42}
    first = post(srv, "/v1/completions", body)["choices"][0]["text"]
    for _ in range(2):
        assert post(srv, "/v1/completions", body)["choices"][0]["text"] == first
    results = [None] * 6

    def one(i):
        b = dict(body, seed=42 if i % 2 == 0 else 43)
        results[i] = post(srv, "/v1/completions", b)["choices"][0]["text"]
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0::2] == [first] * 3, (results, first)
    assert len(set(results[1::2])) == 1 and results[1] != first, results
    c = {"messages": [{"role": "user", "content": "seed"}], "max_tokens": 12, "temperature": 1,
         "seed": 5}
    a = post(srv, "/v1/chat/completions", c)["choices"][0]["message"]["content"]
    assert post(srv, "/v1/chat/completions", c)["choices"][0]["message"]["content"] == a
    s = chunk_text(stream(srv, "/v1/chat/completions", c), True)
    assert s == a, (s, a)
    assert post(srv, "/v1/chat/completions", dict(c, seed=6))["choices"][0]["message"]["content"] != a
    print("ok: seed: same text alone, in a concurrent batch and streamed; another seed differs")


def cum(ch):
    return sum(ch["logprobs"]["token_logprobs"])


def best_of_cases(srv):
    body = {"prompt": [1, 600, 601], "max_tokens": 8, "temperature": 1, "seed": 9,
            "logprobs": 0}
    every = post(srv, "/v1/completions", dict(body, n=5))["choices"]
    best = post(srv, "/v1/completions", dict(body, n=2, best_of=5))
    ranked = sorted(every, key=cum, reverse=True)[:2]
    got = best["choices"]
    assert [c["index"] for c in got] == [0, 1], got
    assert [c["text"] for c in got] == [c["text"] for c in ranked], (got, ranked)
    assert cum(got[0]) >= cum(got[1])
    assert best["usage"]["completion_tokens"] == 5 * 8, best["usage"]
    chat = {"messages": [{"role": "user", "content": "best"}], "max_tokens": 6,
            "temperature": 1, "seed": 3, "logprobs": True}
    ev = post(srv, "/v1/chat/completions", dict(chat, n=4))["choices"]
    bc = post(srv, "/v1/chat/completions", dict(chat, n=1, best_of=4))["choices"]
    score = lambda c: sum(e["logprob"] for e in c["logprobs"]["content"])  # noqa: E731
    assert len(bc) == 1 and bc[0]["message"]["content"] == max(ev, key=score)["message"]["content"]
    for path, b in (("/v1/completions", body), ("/v1/chat/completions", chat)):
        e = post(srv, path, dict(b, n=3, best_of=2), 400)
        assert e["error"]["param"] == "best_of", e
        e = post(srv, path, dict(b, n=1, best_of=2, stream=True), 400)
        assert e["error"]["param"] == "best_of" and "stream" in e["error"]["message"], e
    s = stream(srv, "/v1/completions", dict(body, n=3, best_of=3))
    assert sorted({ch["index"] for c in s for ch in c["choices"]}) == [0, 1, 2]
    print("ok: best_of returns the n of highest cumulative logprob; best_of < n and streamed "
          "best_of > n are 400s")


def usage_cases(srv):
    for path, body in (("/v1/completions", {"prompt": [1, 70], "max_tokens": 5}),
                       ("/v1/chat/completions",
                        {"messages": [{"role": "user", "content": "u"}], "max_tokens": 5})):
        body = dict(body, temperature=0)
        whole = post(srv, path, body)
        chunks = stream(srv, path, dict(body, stream_options={"include_usage": True}))
        last = chunks[-1]
        assert last["choices"] == [] and last["usage"] == whole["usage"], (last, whole["usage"])
        assert all("usage" not in c for c in chunks[:-1]), chunks
        plain = stream(srv, path, body)
        assert all("usage" not in c for c in plain), plain[-1]
        e = post(srv, path, dict(body, stream_options={"include_usage": True}), 400)
        assert e["error"]["param"] == "stream_options", e
    chat = {"messages": [{"role": "user", "content": "m"}], "temperature": 0}
    r = post(srv, "/v1/chat/completions", dict(chat, max_completion_tokens=3))
    assert r["usage"]["completion_tokens"] == 3 and r["choices"][0]["finish_reason"] == "length", r
    r = post(srv, "/v1/chat/completions", dict(chat, max_completion_tokens=2, max_tokens=7))
    assert r["usage"]["completion_tokens"] == 2, r["usage"]  # the newer name wins
    s = stream(srv, "/v1/chat/completions", dict(chat, max_completion_tokens=3,
                                                  stream_options={"include_usage": True}))
    assert s[-1]["usage"]["completion_tokens"] == 3, s[-1]
    print("ok: stream_options.include_usage, max_completion_tokens")


def embeddings_cases(srv):
    e = post(srv, "/v1/embeddings", {"model": "surface", "input": "hello"}, 400)
    msg = e["error"]["message"]
    assert "surface" in msg and "embed" in msg, e
    assert e["error"]["type"] == "invalid_request_error", e
    print("ok: /v1/embeddings refused: %s" % msg)


def main():
    model, tmp = sys.argv[1], sys.argv[2]
    srv = Server("surface", ["--model", model, "--served-model-name", "surface",
                             "--max-num-seqs", "8"], {}, tmp)
    try:
        ref = Reference(model, tmp)
        logprobs_cases(srv, ref)
        echo_cases(srv, ref)
        stop_cases(srv)
        seed_cases(srv)
        best_of_cases(srv)
        usage_cases(srv)
        embeddings_cases(srv)
        srv.stop()
    finally:
        Server.kill_all()


if __name__ == "__main__":
    main()
