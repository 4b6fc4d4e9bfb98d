#!/bin/bash
# `kvspill serve` takes a vLLM deployment's arguments unchanged: the seed's own extraArgs
# (with vLLM's '_' spellings) start a server that names each flag it ignores and why; the
# '_' spelling of an honoured flag is honoured; a positional MODEL works as in `vllm serve`;
# a flag no vLLM version has, or one whose absence would be wrong (TLS), is an error.
# LMCACHE_* without --kv-transfer-config says that offload is off.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-flags-XXXXXX")
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$DIR"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
has() { # has NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: no '$3' in:"; cat "$2"; fi
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME LOG ARGS...: serve in the background until /health answers.
start() {
  local log=$2; shift 2
  P=$(port)
  "$KVSPILL_BIN" serve --host 127.0.0.1 --port "$P" --threads 2 "$@" 2>"$log" &
  PID=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$P/health" >/dev/null && return 0
    kill -0 $PID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
stop() { kill -TERM $PID; wait $PID || true; PID=; }

# 1. The seed's vllmConfig and extraArgs, verbatim, with its LMCACHE_* environment.
LOG=$DIR/seed.log
if LMCACHE_USE_EXPERIMENTAL=True LMCACHE_CHUNK_SIZE=256 LMCACHE_LOCAL_CPU=True \
   LMCACHE_MAX_LOCAL_CPU_SIZE=0.1 LMCACHE_LOCAL_DISK="file://$DIR/cache" \
   LMCACHE_MAX_LOCAL_DISK_SIZE=0.1 \
   start seed "$LOG" --model "$MODEL" --enable-prefix-caching --tensor-parallel-size 2 \
     --max-model-len 512 \
     --tokenizer-mode mistral --config_format mistral --load_format mistral \
     --limit_mm_per_prompt image=4 --gpu-memory-utilization 0.85 \
     --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1", "kv_role":"kv_both"}'; then
  pass "serve starts with the seed's extraArgs"
  has "ignored flags named" "$LOG" "kvspill: accepted and ignored: "
  has "--tokenizer-mode mistral honoured" "$LOG" "kvspill: --tokenizer-mode mistral: using the GGUF's tokenizer (llama)"
  has "_ spelling normalised" "$LOG" "--config-format mistral ("
  has "--load_format named" "$LOG" "--load-format mistral ("
  has "--limit_mm_per_prompt named" "$LOG" "--limit-mm-per-prompt image=4 (kvspill serves text; no image inputs)"
  has "tensor parallelism named" "$LOG" "--tensor-parallel-size 2 (a replica runs on one device"
  [ "$(grep -c 'accepted and ignored' "$LOG")" = 1 ] && pass "one startup line" || fail "one startup line"
  if grep -q "device cpu" "$LOG"; then
    has "--gpu-memory-utilization on a CPU" "$LOG" "--gpu-memory-utilization 0.85 applies to a GPU only"
  else
    has "--gpu-memory-utilization on a GPU" "$LOG" "(--gpu-memory-utilization 0.85 of"
  fi
  has "the active tiers" "$LOG" "kvspill: offload tier local_disk:"
  has "host RAM tier" "$LOG" "kvspill: offload tier mem: host RAM"
  out=$(curl -sf "http://127.0.0.1:$P/v1/completions" -H 'Content-Type: application/json' \
        -d '{"prompt":"hello","max_tokens":4,"temperature":0}') && pass "completion" ||
    fail "completion"
  stop
else
  fail "serve with the seed's extraArgs did not start:"; cat "$LOG"
fi

# 2. '_' spellings of honoured flags, a positional MODEL, --flag=value; LMCACHE_* unused.
LOG=$DIR/underscore.log
if LMCACHE_LOCAL_DISK="file://$DIR/cache2" LMCACHE_MAX_LOCAL_DISK_SIZE=1 \
   start underscore "$LOG" "$MODEL" --max_model_len=256 --served_model_name tiny-u \
     --enable_auto_tool_choice --tool_call_parser=llama3_json; then
  pass "positional model and _ flags"
  curl -sf "http://127.0.0.1:$P/v1/models" | grep -q '"id": *"tiny-u"' &&
    pass "--served_model_name honoured" || fail "--served_model_name honoured"
  has "--max_model_len honoured" "$LOG" "kvspill: KV cache"
  has "LMCACHE without a connector" "$LOG" "LMCACHE_LOCAL_DISK, LMCACHE_MAX_LOCAL_DISK_SIZE are set but no KV connector is configured: offload is off; add --kv-transfer-config"
  has "offload off said" "$LOG" "kvspill: KV offload off"
  has "--tool_call_parser honoured" "$LOG" "kvspill: tool calls: llama3_json (--tool-call-parser)"
  # A named tool call comes back parsed in that format (test_tool_calls covers the rest).
  body='"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
        "properties":{"n":{"type":"integer"}},"required":["n"]}}}],
        "tool_choice":{"type":"function","function":{"name":"f"}}'
  code=$(curl -s -o "$DIR/resp" -w '%{http_code}' "http://127.0.0.1:$P/v1/chat/completions" \
         -H 'Content-Type: application/json' \
         -d "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":150,$body}")
  [ "$code" = 200 ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["choices"][0]
assert r["finish_reason"] == "tool_calls", r
c = r["message"]["tool_calls"][0]["function"]
assert c["name"] == "f" and isinstance(json.loads(c["arguments"])["n"], int), r' "$DIR/resp" &&
    pass "named tool call" || { fail "named tool call (got $code)"; cat "$DIR/resp"; }
  # A JSON object is asked for and given (test_structured_outputs covers the rest).
  code=$(curl -s -o "$DIR/resp" -w '%{http_code}' "http://127.0.0.1:$P/v1/chat/completions" \
         -H 'Content-Type: application/json' \
         -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":200,"temperature":0,
              "response_format":{"type":"json_schema","json_schema":{"name":"b",
              "schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}}')
  [ "$code" = 200 ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["choices"][0]
assert r["finish_reason"] == "stop", r
assert isinstance(json.loads(r["message"]["content"])["ok"], bool), r' "$DIR/resp" &&
    pass "response_format json_schema" || { fail "response_format json_schema (got $code)"; cat "$DIR/resp"; }
  [ ! -e "$DIR/cache2" ] && pass "no cache directory made" || fail "no cache directory made"
  stop
else
  fail "serve with _ flags did not start:"; cat "$LOG"
fi

# 2b. A Mistral-style model (tekken pre-tokenizer, Mistral's control tokens first, the v7
# template) under --tokenizer-mode mistral: the system prompt and the user turn reach the
# model inside their control tokens, and the answer with the cache on equals it off.
"$KVSPILL_BIN" model gen --out "$DIR/tekken.gguf" --vocab-style tekken --layers 2 --dim 64 \
  --heads 4 --kv-heads 2 --ff 128 --ctx 512 >/dev/null
LOG=$DIR/tekken.log
if LMCACHE_CHUNK_SIZE=16 LMCACHE_LOCAL_CPU=True LMCACHE_MAX_LOCAL_CPU_SIZE=0.05 \
   start tekken "$LOG" --model "$DIR/tekken.gguf" --tokenizer-mode mistral \
     --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'; then
  has "tekken model under --tokenizer-mode mistral" "$LOG" "using the GGUF's tokenizer (tekken)"
  MSGS='[{"role":"system","content":"You answer in one line."},{"role":"user","content":"Name the three primary colours, please."}]'
  curl -sf "http://127.0.0.1:$P/tokenize" -H 'Content-Type: application/json' \
    -d "{\"messages\":$MSGS}" >"$DIR/tok.json" || fail "tokenize messages"
  python3 - "$DIR/tok.json" <<'PY' && pass "v7 prompt: <s>[SYSTEM_PROMPT]...[/SYSTEM_PROMPT][INST]...[/INST]" || fail "v7 prompt tokens: $(cat "$DIR/tok.json")"
import json, sys
t = json.load(open(sys.argv[1]))["tokens"]
# <s>=1 [SYSTEM_PROMPT]=17 [/SYSTEM_PROMPT]=18 [INST]=3 [/INST]=4, in that order, each once
assert t[0] == 1 and t[1] == 17 and t[-1] == 4, t
assert [x for x in t if x < 20] == [1, 17, 18, 3, 4], t
PY
  BODY="{\"messages\":$MSGS,\"max_tokens\":12,\"temperature\":0}"
  a=$(curl -sf "http://127.0.0.1:$P/v1/chat/completions" -H 'Content-Type: application/json' -d "$BODY" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])') &&
    pass "chat on the tekken model" || fail "chat on the tekken model"
  b=$(curl -sf "http://127.0.0.1:$P/v1/chat/completions" -H 'Content-Type: application/json' -d "$BODY" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["choices"][0]["message"]["content"]); print(d["usage"].get("prompt_tokens_details",{}).get("cached_tokens",0), file=sys.stderr)' 2>"$DIR/cached")
  [ "$(cat "$DIR/cached")" -gt 0 ] && pass "second turn reuses the cached prefix" ||
    fail "second turn reuses the cached prefix (cached $(cat "$DIR/cached"))"
  stop
  start tekken-off "$LOG.off" --model "$DIR/tekken.gguf" --tokenizer-mode mistral || fail "tekken, cache off"
  c=$(curl -sf "http://127.0.0.1:$P/v1/chat/completions" -H 'Content-Type: application/json' -d "$BODY" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])')
  stop
  [ "$a" = "$c" ] && [ "$b" = "$c" ] && pass "tekken: cache on equals cache off" ||
    fail "tekken: cache on equals cache off ('$a' / '$b' / '$c')"
else
  fail "serve of the tekken model did not start:"; cat "$LOG"
fi

# 3. Errors: a flag no vLLM has, TLS, a bad value of an honoured flag.
set +e
"$KVSPILL_BIN" serve --model "$MODEL" --no-such-flag 1 2>"$DIR/e1"; rc=$?
[ $rc = 2 ] && pass "unknown flag exits 2" || fail "unknown flag exits 2 (got $rc)"
has "unknown flag named" "$DIR/e1" "no-such-flag"
"$KVSPILL_BIN" serve --model "$MODEL" --ssl-keyfile k.pem 2>"$DIR/e2"; rc=$?
[ $rc = 2 ] && pass "TLS flag exits 2" || fail "TLS flag exits 2 (got $rc)"
has "TLS refusal says why" "$DIR/e2" "--ssl-keyfile: TLS is not built into kvspill serve"
"$KVSPILL_BIN" serve --model "$MODEL" --gpu_memory_utilization 1.5 2>"$DIR/e3"; rc=$?
[ $rc = 2 ] && pass "bad fraction exits 2" || fail "bad fraction exits 2 (got $rc)"
has "bad fraction named" "$DIR/e3" "bad value for --gpu-memory-utilization: '1.5'"
"$KVSPILL_BIN" serve --model "$MODEL" --tokenizer-mode 2>"$DIR/e4"; rc=$?
[ $rc = 2 ] && pass "missing value exits 2" || fail "missing value exits 2 (got $rc)"
# --tokenizer-mode mistral on a model whose tokenizer is not Mistral's (generated: gpt-2)
"$KVSPILL_BIN" model gen --out "$DIR/gpt2.gguf" --layers 1 --dim 32 --heads 2 --kv-heads 1 --ff 64 \
  --ctx 64 >/dev/null
"$KVSPILL_BIN" serve --model "$DIR/gpt2.gguf" --tokenizer-mode mistral 2>"$DIR/e5"; rc=$?
[ $rc = 2 ] && pass "mistral mode on gpt-2 exits 2" || fail "mistral mode on gpt-2 exits 2 (got $rc)"
has "mistral mode refusal says why" "$DIR/e5" "the model's tokenizer is 'gpt-2', not Mistral's"
"$KVSPILL_BIN" serve --model "$MODEL" --tokenizer-mode fast 2>"$DIR/e6"; rc=$?
[ $rc = 2 ] && pass "unknown tokenizer mode exits 2" || fail "unknown tokenizer mode exits 2 (got $rc)"
set -e
[ $fails -eq 0 ] && echo "all passed" || { echo "$fails failed"; exit 1; }
