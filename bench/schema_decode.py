#!/usr/bin/env python3
"""Decode tokens/s with and without a JSON schema (response_format json_schema) on one
running `kvspill serve`, alternated request by request so that both see the same machine.

  python3 bench/schema_decode.py URL [--rounds 5] [--max-tokens 48]

Each request is a greedy /v1/completions of the same prompt; its decode rate is
(completion_tokens - 1) / (wall time - time to the first token), the first token's time
being the server's own (the response's kvspill.ttft_ms). Prints each pair and the medians,
and the ratio schema / plain per pair (its median is the figure)."""
import argparse
import json
import statistics
import time
import urllib.request

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"},
                                           "tags": {"type": "array", "items": {"type": "string"}},
                                           "year": {"type": "integer"}},
          "required": ["title", "tags", "year"]}
PROMPT = "Describe a book as JSON with its title, tags and year:"


def one(url, max_tokens, schema):
    body = {"prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0}
    if schema:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "book", "schema": SCHEMA}}
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=3600) as r:
        out = json.loads(r.read())
    wall = time.monotonic() - t0
    n = out["usage"]["completion_tokens"]
    decode_s = wall - out["kvspill"]["ttft_ms"] / 1e3
    return n, (n - 1) / decode_s if n > 1 and decode_s > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=48)
    a = ap.parse_args()
    one(a.url, 4, False)  # warm-up: the model's pages, the vocabulary's token trie
    one(a.url, 4, True)
    plain, schema, ratio = [], [], []
    for i in range(a.rounds):
        n_p, p = one(a.url, a.max_tokens, False)
        n_s, s = one(a.url, a.max_tokens, True)
        plain.append(p)
        schema.append(s)
        ratio.append(s / p)
        print("round %d: plain %d tokens %.2f tok/s, schema %d tokens %.2f tok/s, ratio %.3f"
              % (i + 1, n_p, p, n_s, s, s / p), flush=True)
    print("median: plain %.2f tok/s, schema %.2f tok/s, ratio %.3f (min %.3f, max %.3f)"
          % (statistics.median(plain), statistics.median(schema), statistics.median(ratio),
             min(ratio), max(ratio)))


if __name__ == "__main__":
    main()
