"""Structured outputs against a `kvspill serve` of a random-weight model: every schema of
SCHEMAS at temperature 0 and at temperature 1 with a few seeds, on both endpoints, must give
output that parses with json.loads and validates with jsonschema (an independent
validator); json_object, guided_regex, guided_choice, guided_grammar and a stream must hold
too, and unsupported or unsatisfiable requests must be 400s naming the construct.
A random model stops only when the grammar completes or max_tokens runs out, so
finish_reason "length" counts as a failure.

    structured_outputs_check.py MODEL TMPDIR"""
import json
import os
import re
import sys
import urllib.error
import urllib.request

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvspill_server import Server  # noqa: E402

S = {"type": "string", "maxLength": 8}
SCHEMAS = [
    {"type": "object", "properties": {"name": S, "age": {"type": "integer"}},
     "required": ["name", "age"]},
    {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}},
     "required": ["a"]},
    {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}},
    {"type": "object", "properties": {"tags": {"type": "array", "items": S, "minItems": 1,
                                               "maxItems": 3}}, "required": ["tags"]},
    {"type": "object", "properties": {"inner": {"type": "object", "properties": {
        "deep": {"type": "object", "properties": {"v": {"type": "integer"}},
                 "required": ["v"]}}, "required": ["deep"]}}, "required": ["inner"]},
    {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]}},
     "required": ["color"]},
    {"type": "object", "properties": {"kind": {"const": "point"}, "n": {"type": "integer"}},
     "required": ["kind", "n"]},
    {"type": "object", "properties": {"v": {"anyOf": [{"type": "integer"}, S]}},
     "required": ["v"]},
    {"type": "object", "properties": {"v": {"oneOf": [{"type": "boolean"}, {"type": "null"}]}},
     "required": ["v"]},
    {"$defs": {"pt": {"type": "object", "properties": {"x": {"type": "integer"},
                                                       "y": {"type": "integer"}},
                      "required": ["x", "y"]}},
     "type": "object", "properties": {"from": {"$ref": "#/$defs/pt"},
                                      "to": {"$ref": "#/$defs/pt"}},
     "required": ["from", "to"]},
    {"$defs": {"node": {"type": "object", "properties": {
        "val": {"type": "integer"},
        "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
        "required": ["val", "next"]}},
     "$ref": "#/$defs/node"},
    {"definitions": {"id": {"type": "string", "pattern": "^[a-z]{2}-[0-9]{3}$"}},
     "type": "object", "properties": {"id": {"$ref": "#/definitions/id"}}, "required": ["id"]},
    {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
     "required": ["zip"]},
    {"type": "object", "properties": {"code": {"type": "string",
                                               "pattern": "^(ab|cd)+x?$"}},
     "required": ["code"]},
    {"type": "object", "properties": {"word": {"type": "string", "pattern": "^\\w{1,6}$"}},
     "required": ["word"]},
    {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    {"type": "array", "items": {"type": "boolean"}, "maxItems": 0},
    {"type": "array", "items": {"enum": [1, 2, 3]}, "minItems": 3, "maxItems": 3},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "string", "minLength": 2, "maxLength": 5},
    {"enum": ["yes", "no", 3, None, True]},
    {"const": {"fixed": [1, 2]}},
    {"type": ["integer", "null"]},
    {"type": "object", "properties": {"a": S, "b": S, "c": S, "d": S}, "required": ["c"]},
    {"$defs": {"e": {"enum": ["a", "b"]}}, "type": "array", "items": {"$ref": "#/$defs/e"},
     "maxItems": 3},
    {"type": "object", "properties": {"empty": {"type": "object", "properties": {}}},
     "required": ["empty"]},
    {"type": "object", "properties": {"matrix": {"type": "array", "maxItems": 2, "items": {
        "type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}}},
     "required": ["matrix"]},
    {"type": "object", "properties": {"s": {"type": "string", "maxLength": 0}},
     "required": ["s"]},
    {"type": "object", "properties": {"title": {"type": "string", "maxLength": 6,
                                                "description": "annotations are ignored"},
                                      "n": {"type": "integer", "title": "N"}},
     "required": ["title", "n"], "additionalProperties": False},
    {"anyOf": [{"type": "object", "properties": {"ok": {"const": True}}, "required": ["ok"]},
               {"type": "array", "items": {"type": "null"}, "maxItems": 2}]},
]

UNSUPPORTED = [
    ({"type": "integer", "minimum": 0}, "'minimum' is not supported"),
    ({"type": "object", "properties": {"a": {"type": "string", "format": "date"}}},
     "'format' is not supported (at #/properties/a)"),
    ({"type": "array", "minItems": 3, "maxItems": 1}, "minItems is above maxItems"),
    ({"enum": []}, "'enum' is empty"),
    ({"$ref": "#/$defs/missing"}, "names no definition"),
    ({"type": "string", "pattern": "^(?=a)b$"}, "lookarounds"),
    ({"type": "object", "properties": {"a": S}, "required": ["b"]},
     "required property 'b' is not in 'properties'"),
]


def post(url, path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Checker:
    def __init__(self, url):
        self.url, self.failures, self.checked = url, [], 0

    def fail(self, what, detail):
        self.failures.append("%s: %s" % (what, detail))

    def generate(self, what, endpoint, extra, temperature, seed, max_tokens=400):
        body = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
        body.update(extra)
        if endpoint == "chat":
            body["messages"] = [{"role": "user", "content": "give me json"}]
            code, text = post(self.url, "/v1/chat/completions", body)
        else:
            body["prompt"] = "json:"
            code, text = post(self.url, "/v1/completions", body)
        if code != 200:
            self.fail(what, "HTTP %d %s" % (code, text[:300]))
            return None
        choice = json.loads(text)["choices"][0]
        out = choice["message"]["content"] if endpoint == "chat" else choice["text"]
        if choice["finish_reason"] != "stop":
            self.fail(what, "finish_reason %s after %r" % (choice["finish_reason"], out[:200]))
            return None
        self.checked += 1
        return out

    def schema_case(self, i, schema):
        runs = [(0, 0), (1, 1), (1, 2), (1, 3)]
        for k, (temp, seed) in enumerate(runs):
            endpoint = "chat" if k % 2 == 0 else "completions"
            what = "schema %d (%s, temperature %g, seed %d)" % (i, endpoint, temp, seed)
            extra = ({"response_format": {"type": "json_schema", "json_schema": {
                "name": "s%d" % i, "schema": schema, "strict": True}}}
                if k < 2 or i % 2 else {"guided_json": schema})
            out = self.generate(what, endpoint, extra, temp, seed)
            if out is None:
                continue
            try:
                jsonschema.validate(json.loads(out), schema)
            except (ValueError, jsonschema.ValidationError) as e:
                self.fail(what, "%r: %s" % (out, str(e).splitlines()[0]))

    def others(self):
        for seed in (1, 2):
            out = self.generate("json_object seed %d" % seed, "chat",
                                {"response_format": {"type": "json_object"}}, 1, seed, 600)
            if out is not None:
                try:
                    if not isinstance(json.loads(out), dict):
                        self.fail("json_object", "not an object: %r" % out)
                except ValueError as e:
                    self.fail("json_object", "%r: %s" % (out, e))
        for pattern in (r"[a-c]{2,5}-\d{3}", r"(yes|no|maybe)!?", r"[A-Z][a-z]{0,4}( [a-z]{1,3}){1,2}\.",
                        r"0x[0-9a-f]{4}|\(\d\)"):
            for temp, seed in ((0, 0), (1, 5)):
                out = self.generate("guided_regex %s" % pattern, "completions",
                                    {"guided_regex": pattern}, temp, seed)
                if out is not None and not re.fullmatch(pattern, out):
                    self.fail("guided_regex %s" % pattern, "%r does not match" % out)
        choices = ["alpha", "beta gamma", "δέλτα", "{\"j\": 1}"]
        for temp, seed in ((0, 0), (1, 1), (1, 2), (1, 3)):
            out = self.generate("guided_choice", "chat", {"guided_choice": choices}, temp, seed)
            if out is not None and out not in choices:
                self.fail("guided_choice", "%r is not a choice" % out)
        gbnf = 'root ::= "(" num ("+" num){0,3} ")"\nnum ::= [1-9] [0-9]?'
        for seed in (1, 2):
            out = self.generate("guided_grammar", "completions", {"guided_grammar": gbnf}, 1, seed)
            if out is not None and not re.fullmatch(r"\([1-9][0-9]?(\+[1-9][0-9]?){0,3}\)", out):
                self.fail("guided_grammar", "%r does not match" % out)
        so = self.generate("structured_outputs", "completions",
                           {"structured_outputs": {"choice": ["left", "right"]}}, 1, 4)
        if so is not None and so not in ("left", "right"):
            self.fail("structured_outputs", "%r is not a choice" % so)

    def stream(self):
        schema = SCHEMAS[0]
        body = {"messages": [{"role": "user", "content": "json"}], "max_tokens": 300,
                "temperature": 1, "seed": 7, "stream": True,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "p", "schema": schema}}}
        req = urllib.request.Request(self.url + "/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        text, finish, chunks = "", None, 0
        with urllib.request.urlopen(req, timeout=60) as r:
            for line in r:
                line = line.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                ch = json.loads(line[6:])["choices"][0]
                text += ch["delta"].get("content") or ""
                finish = ch.get("finish_reason") or finish
                chunks += 1
        # Tokens that arrive together share a chunk, so the count depends on timing.
        if finish != "stop" or chunks < 1:
            self.fail("stream", "finish %s after %d chunks: %r" % (finish, chunks, text))
            return
        try:
            jsonschema.validate(json.loads(text), schema)
            self.checked += 1
        except (ValueError, jsonschema.ValidationError) as e:
            self.fail("stream", "%r: %s" % (text, e))

    def refusals(self):
        cases = [({"response_format": {"type": "json_schema", "json_schema": {
            "name": "u", "schema": schema}}}, needle) for schema, needle in UNSUPPORTED]
        cases += [
            ({"guided_regex": "a\\1"}, "unsupported escape"),
            ({"guided_grammar": "root ::= foo"}, "rule 'foo' is used but not defined"),
            ({"guided_choice": []}, "non-empty array"),
            ({"guided_json": {"type": "integer"}, "guided_regex": "a"}, "give one"),
            ({"response_format": {"type": "xml"}}, "'xml' is not supported"),
        ]
        for body, needle in cases:
            body = dict(body, messages=[{"role": "user", "content": "x"}])
            code, text = post(self.url, "/v1/chat/completions", body)
            msg = json.loads(text).get("error", {}).get("message", "") if code == 400 else text
            if code != 400 or needle not in msg:
                self.fail("400 for %s" % json.dumps(body)[:120],
                          "HTTP %d, message %r lacks %r" % (code, msg[:300], needle))
            else:
                self.checked += 1


def main():
    model, tmp = sys.argv[1], sys.argv[2]
    srv = Server("structured", ["--model", model, "--threads", "2", "--max-model-len", "2048"],
                 {}, tmp)
    try:
        c = Checker(srv.url)
        for i, schema in enumerate(SCHEMAS):
            c.schema_case(i, schema)
        c.others()
        c.stream()
        c.refusals()
    finally:
        srv.stop()
    print("%d schemas; %d outputs and refusals checked" % (len(SCHEMAS), c.checked))
    for f in c.failures:
        print("FAIL:", f)
    sys.exit(1 if c.failures or len(SCHEMAS) < 30 else 0)


if __name__ == "__main__":
    main()
