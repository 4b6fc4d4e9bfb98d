#!/usr/bin/python3
"""Renders every chat template in a directory with Jinja2 (as transformers'
apply_chat_template does) and with kvspill's interpreter (helper_jinja_render), for a set
of conversations, and compares the two byte for byte.

    jinja_compare.py HELPER TEMPLATE_DIR

Prints one line per mismatch and "templates x conversations identical: N/M"; exits 1 on
any mismatch (a conversation Jinja2 raises on must make kvspill fail too), 77 when the
directory is absent or Jinja2 is not installed."""
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime

try:
    import jinja2
    import jinja2.ext
except ImportError:
    print("jinja_compare: python3-jinja2 is not installed (scripts/install-deps.sh)")
    sys.exit(77)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' tojson: keeps non-ASCII text and does not HTML-escape
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def environment():
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "integer", "description": "Days ahead", "minimum": 0, "maximum": 7},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search documents",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": "number"}}},
                },
                "threshold": {"type": "number", "default": 0.5, "format": "float"},
                "mode": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "required": ["query"],
        },
    },
}

U1 = {"role": "user", "content": "Hello! What can you do?"}
A1 = {"role": "assistant", "content": "I can answer questions."}
U2 = {"role": "user", "content": "Tell me a joke about \"C\" programmers, it's late.\nThanks"}
SYS = {"role": "system", "content": "You are a helpful assistant."}
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {"id": "abc123XYZ", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}
    ],
}
CALL_STR = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "def456UVW", "type": "function", "function": {"name": "search", "arguments": "{\"query\": \"kv cache\"}"}}
    ],
}
RESULT = {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"}
RESULT2 = {"role": "tool", "tool_call_id": "def456UVW", "name": "search", "content": "3 results"}
COHERE_TOOL = {
    "name": "internet_search",
    "description": "Returns a list of relevant document snippets for a textual query",
    "parameter_definitions": {
        "query": {"description": "Query to search the internet with", "type": "str", "required": True},
        "max_results": {"description": "How many results", "type": "int", "required": False},
    },
}
UW = {"role": "user", "content": "What is the weather in Paris in two days?"}

CONVERSATIONS = {
    "one-user": {"messages": [U1]},
    "system-user": {"messages": [SYS, U1]},
    "multi-turn": {"messages": [U1, A1, U2]},
    "system-multi-turn": {"messages": [SYS, U1, A1, U2]},
    "ends-with-assistant": {"messages": [SYS, U1, A1]},
    "unicode": {"messages": [{"role": "user", "content": "  Grüße, 世界! «ça va?» ☕\t "}, {"role": "assistant", "content": " Très bien — merci. "}, {"role": "user", "content": "😀"}]},
    "content-parts": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this."}, {"type": "text", "text": "Briefly."}]}]},
    "not-alternating": {"messages": [U1, U2]},
    "tools": {"messages": [SYS, UW], "tools": [WEATHER, SEARCH]},
    "tools-no-system": {"messages": [UW], "tools": [WEATHER]},
    "tool-call-result": {"messages": [SYS, UW, CALL, RESULT], "tools": [WEATHER, SEARCH]},
    "tool-call-string-args": {"messages": [UW, CALL_STR, RESULT2, {"role": "assistant", "content": "Found 3."}, U2], "tools": [SEARCH]},
    "flat-tools": {"messages": [SYS, UW], "tools": [COHERE_TOOL]},
    "functions-kwarg": {"messages": [SYS, UW], "functions": json.dumps([WEATHER["function"]], indent=2)},
    "tools-null": {"messages": [SYS, U1], "tools": None, "documents": None},
    "documents": {"messages": [U1], "documents": [{"title": "Doc A", "text": "Alpha text."}, {"title": "Doc B", "text": "Beta text."}]},
}


def context(conv, gen):
    # the variables the server passes: tools and documents only when the request has
    # them ("tools-null" passes None, as transformers does), extra kwargs as they are
    ctx = dict(conv)
    ctx.update({"add_generation_prompt": gen, "bos_token": "<s>", "eos_token": "</s>"})
    return ctx


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    helper, tdir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(tdir):
        print(f"jinja_compare: {tdir} is absent; skipped")
        return 77
    names = sorted(n for n in os.listdir(tdir) if n.endswith(".jinja"))
    env = environment()
    same = total = 0
    jinja_errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = os.path.join(tdir, name)
            with open(path, encoding="utf-8") as f:
                template = env.from_string(f.read())
            for cname, conv in CONVERSATIONS.items():
                for gen in (True, False):
                    total += 1
                    ctx = context(conv, gen)
                    try:
                        want, want_err = template.render(**ctx), None
                    except Exception as e:  # noqa: BLE001 - any Jinja2 failure must be a kvspill failure
                        want, want_err = None, f"{type(e).__name__}: {e}"
                        raised = str(e) if type(e) is jinja2.exceptions.TemplateError else None
                        jinja_errors += 1
                    cpath = os.path.join(tmp, "ctx.json")
                    with open(cpath, "w", encoding="utf-8") as f:
                        json.dump(ctx, f, ensure_ascii=False)
                    p = subprocess.run([helper, path, cpath], capture_output=True)
                    got = p.stdout.decode("utf-8", "replace") if p.returncode == 0 else None
                    label = f"{name} x {cname} (add_generation_prompt={gen})"
                    if want_err is not None:
                        stderr = p.stderr.decode("utf-8", "replace")
                        if p.returncode in (1, 2) and (raised is None or raised in stderr):
                            same += 1
                        elif p.returncode in (1, 2):
                            print(f"MISMATCH {label}: Jinja2 raised ({want_err}) but kvspill said: {stderr.strip()}")
                        else:
                            print(f"MISMATCH {label}: Jinja2 raised ({want_err}) but kvspill rendered (rc {p.returncode})")
                        continue
                    if got == want:
                        same += 1
                        continue
                    if got is None:
                        print(f"MISMATCH {label}: kvspill failed (rc {p.returncode}): {p.stderr.decode(errors='replace').strip()}")
                        continue
                    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
                    print(f"MISMATCH {label}: first difference at character {i}:\n"
                          f"  jinja2:  {want[max(0, i - 40):i + 40]!r}\n  kvspill: {got[max(0, i - 40):i + 40]!r}")
    print(f"templates x conversations identical: {same}/{total} "
          f"({len(names)} templates, {len(CONVERSATIONS)} conversations x add_generation_prompt true/false; "
          f"{jinja_errors} of them raise in Jinja2 and fail in kvspill)")
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())
