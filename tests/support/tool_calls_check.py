"""Tool calling against `kvspill serve` of random-weight models, one server per reply
format, each with a published template that renders tools (--chat-template from
testdata/templates) and the format guessed by the server: hermes (Qwen 2.5's template on a
ChatML vocabulary), mistral (Mistral Nemo's on a Tekken vocabulary with [TOOL_CALLS]) and
llama3_json (Llama 3.1's).
For tool_choice "required" and a named function, at temperature 0 and 1, streamed and not,
every reply must be parsed calls (finish_reason "tool_calls") whose names are the tools'
and whose arguments validate with jsonschema against the tool's parameters; at temperature 0
the stream must give the calls the whole answer gives. A second turn with the call and its
result must render and reuse the first turn's KV (cached_tokens > 0); "none" never parses;
"auto" streams what the whole answer gives; Mistral's [TOOL_CALLS] reaches the parser only
when tools are on; bad tool requests are 400s naming the field.

    tool_calls_check.py CHATML_MODEL TEKKEN_MODEL TEMPLATES_DIR TMPDIR"""
import json
import os
import sys
import urllib.error
import urllib.request

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvspill_server import Server  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {
        "city": {"enum": ["Paris", "Rome", "Oslo"]},
        "days": {"type": "integer"},
        "metric": {"type": "boolean"}},
        "required": ["city", "days"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 10},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
        "required": ["query"]}}}
TOOLS = [WEATHER, SEARCH]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
SYSTEM = {"role": "system", "content": "You are a helpful assistant with tools. " * 4}
USER = {"role": "user", "content": "What is the weather in Paris for three days?"}
NAMED = {"type": "function", "function": {"name": "search"}}


def stream(srv, body):
    """The chunks of a streamed chat completion."""
    req = urllib.request.Request(srv.url + "/v1/chat/completions",
                                 data=json.dumps(dict(body, stream=True)).encode(),
                                 headers={"Content-Type": "application/json"})
    chunks = []
    with urllib.request.urlopen(req, timeout=300) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    return chunks


def gather(chunks):
    """A stream's content, tool calls (by index, arguments joined) and finish reason."""
    content, calls, finish = "", {}, None
    for ch in chunks:
        assert "error" not in ch, ch
        c = ch["choices"][0]
        d = c["delta"]
        content += d.get("content") or ""
        for tc in d.get("tool_calls") or []:
            cur = calls.setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
            fn = tc.get("function") or {}
            if tc.get("id"):  # a call opens with its id, type and name, no arguments yet
                assert tc["type"] == "function" and fn["name"] and fn["arguments"] == "", tc
                cur["id"] = tc["id"]
            if fn.get("name"):
                cur["name"] = fn["name"]
            cur["arguments"] += fn.get("arguments") or ""
        finish = c["finish_reason"] or finish
    return content, [calls[i] for i in sorted(calls)], finish


def check_calls(where, calls, finish, named):
    assert finish == "tool_calls", (where, finish, calls)
    assert calls, (where, "no calls")
    for c in calls:
        assert c["id"], (where, c)
        assert c["name"] in PARAMS, (where, c)
        if named:
            assert c["name"] == named, (where, c)
        args = json.loads(c["arguments"])
        jsonschema.validate(args, PARAMS[c["name"]])


def whole_calls(resp):
    msg = resp["choices"][0]["message"]
    calls = [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
             for c in msg.get("tool_calls") or []]
    for c in msg.get("tool_calls") or []:
        assert c["type"] == "function", c
    return msg, calls, resp["choices"][0]["finish_reason"]


def check_forced(srv, fmt):
    for choice, named in (("required", None), (NAMED, "search")):
        for temp, seeds in ((0, [0]), (1, [1, 2, 3])):
            for seed in seeds:
                body = {"messages": [SYSTEM, USER], "tools": TOOLS, "tool_choice": choice,
                        "temperature": temp, "seed": seed, "max_tokens": 900,
                        "parallel_tool_calls": seed != 2}
                where = "%s %s t=%s seed=%d" % (fmt, named or "required", temp, seed)
                msg, calls, finish = whole_calls(srv.post("/v1/chat/completions", body))
                check_calls(where, calls, finish, named)
                if fmt == "mistral":
                    assert all(len(c["id"]) == 9 and c["id"].isalnum() for c in calls), calls
                else:
                    assert all(c["id"].startswith("chatcmpl-tool-") for c in calls), calls
                if seed == 2:
                    assert len(calls) == 1, (where, "parallel_tool_calls false", calls)
                content, scalls, sfinish = gather(stream(srv, body))
                check_calls(where + " stream", scalls, sfinish, named)
                if temp == 0:
                    strip = lambda cs: [(c["name"], json.loads(c["arguments"])) for c in cs]
                    assert strip(scalls) == strip(calls), (where, scalls, calls)
                    assert (content or None) == msg["content"], (where, content, msg["content"])
    print("%s: required and named calls valid at temperature 0 and 1, streamed and not" % fmt)
    return calls


def check_second_turn(srv, fmt):
    # Llama 3.1's template takes one call per assistant message.
    body = {"messages": [SYSTEM, USER], "tools": TOOLS, "tool_choice": "required",
            "temperature": 0, "max_tokens": 900, "parallel_tool_calls": fmt != "llama3_json"}
    first = srv.post("/v1/chat/completions", body)
    plain = srv.post("/v1/chat/completions", {"messages": [SYSTEM, USER], "max_tokens": 1})
    # The tools reach the model through the template.
    assert first["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"] + 50, (fmt, plain)
    msg = first["choices"][0]["message"]
    results = [{"role": "tool", "tool_call_id": c["id"], "content": json.dumps({"temp_c": 21})}
               for c in msg["tool_calls"]]
    turn2 = dict(body, tool_choice="auto", max_tokens=8,
                 messages=[SYSTEM, USER, {"role": "assistant", "content": None,
                                          "tool_calls": msg["tool_calls"]}] + results)
    second = srv.post("/v1/chat/completions", turn2)
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached > 0, (fmt, second["usage"])
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"], (fmt, second)
    # "none": tools are rendered but the reply is text, never parsed.
    none = srv.post("/v1/chat/completions", dict(turn2, tool_choice="none", max_tokens=16))
    assert "tool_calls" not in none["choices"][0]["message"], none
    assert none["choices"][0]["finish_reason"] in ("stop", "length"), none
    # "auto": free text, parsed when it holds calls; streamed the same as whole at temperature 0.
    auto = srv.post("/v1/chat/completions", dict(turn2, max_tokens=24))
    amsg, acalls, afinish = whole_calls(auto)
    content, scalls, sfinish = gather(stream(srv, dict(turn2, max_tokens=24)))
    assert (content or None) == amsg["content"] and afinish == sfinish, (auto, content)
    assert len(acalls) == len(scalls), (acalls, scalls)
    print("%s: second turn with %d tool result(s): %d of %d prompt tokens cached" %
          (fmt, len(results), cached, second["usage"]["prompt_tokens"]))


def check_mistral_marker(srv):
    """[TOOL_CALLS] is a control token: shown to the parser when tools may be called (a
    reply of markers alone is no call, so it comes back as content), hidden otherwise."""
    body = {"messages": [USER], "tools": TOOLS, "temperature": 0, "max_tokens": 3,
            "logit_bias": {"9": 100}}
    auto = srv.post("/v1/chat/completions", body)["choices"][0]
    assert auto["message"]["content"] == "[TOOL_CALLS]" * 3, auto
    assert "tool_calls" not in auto["message"] and auto["finish_reason"] == "length", auto
    none = srv.post("/v1/chat/completions", dict(body, tool_choice="none"))["choices"][0]
    assert none["message"]["content"] == "", none
    print("mistral: [TOOL_CALLS] shown to the parser with tools, hidden without")


def check_errors(srv):
    bad = [({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
           ({"tool_choice": "required", "tools": []}, "tool_choice"),
           ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
               "type": "object", "properties": {"x": {"type": "string", "format": "uri",
                                                       "pattern": "(?=a)"}}}}}],
             "tool_choice": "required"}, "tools"),
           ({"functions": [{"name": "f"}]}, "functions")]
    for extra, param in bad:
        body = dict({"messages": [USER], "tools": TOOLS}, **extra)
        try:
            srv.post("/v1/chat/completions", body)
            raise AssertionError("accepted: %s" % extra)
        except urllib.error.HTTPError as e:
            err = json.loads(e.read())["error"]
            assert e.code == 400 and err["param"] == param, (extra, e.code, err)
    print("bad tool requests are 400s naming the field")


def main():
    chatml, tekken, templates, tmp = sys.argv[1:5]
    configs = [("hermes", chatml, "Qwen-Qwen2.5-7B-Instruct.jinja"),
               ("mistral", tekken, "mistralai-Mistral-Nemo-Instruct-2407.jinja"),
               ("llama3_json", chatml, "meta-llama-Llama-3.1-8B-Instruct.jinja")]
    for fmt, model, template in configs:
        srv = Server(fmt, ["--model", model, "--threads", "2", "--max-model-len", "4096",
                           "--chat-template", os.path.join(templates, template)], {}, tmp)
        try:
            assert "tool calls: %s (guessed" % fmt in srv.text(), srv.dump()
            check_forced(srv, fmt)
            check_second_turn(srv, fmt)
            if fmt == "hermes":
                check_errors(srv)
            if fmt == "mistral":
                check_mistral_marker(srv)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
