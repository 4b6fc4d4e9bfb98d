/* Tool calls as a grammar (tool_grammar.h): the call objects as one JSON schema, compiled
 * by the JSON Schema compiler, then wrapped in the format's text. */
#include "server/tool_grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"

/* {"type":"object","properties":{"name":{"const":N},"<args_key>":P},"required":[...]},
 * with P's $defs lifted to defs so that its "#/$defs/..." references still resolve. */
static json_t *call_schema(const json_t *fn, const char *args_key, json_t *defs)
{
    json_t *params = json_object_get(fn, "parameters");
    json_t *p = params ? json_deep_copy(params) : json_pack("{s:s}", "type", "object");
    if (!p)
        return NULL;
    const char *def_keys[] = {"$defs", "definitions"};
    for (size_t k = 0; k < 2 && json_is_object(p); k++) {
        json_t *d = json_object_get(p, def_keys[k]);
        if (json_is_object(d) && json_object_update(json_object_get(defs, def_keys[k]), d)) {
            json_decref(p);
            return NULL;
        }
        json_object_del(p, def_keys[k]);
    }
    return json_pack("{s:s, s:{s:{s:O}, s:o}, s:[s, s]}", "type", "object", "properties",
                     "name", "const", json_object_get(fn, "name"), args_key, p, "required",
                     "name", args_key);
}

/* The schema of one call: of the named tool, or anyOf all of them. */
static json_t *calls_schema(tool_format f, const json_t *tools, const char *name)
{
    const char *args_key = f == TOOL_LLAMA3_JSON ? "parameters" : "arguments";
    json_t *defs = json_pack("{s:{}, s:{}}", "$defs", "definitions");
    json_t *any = json_array();
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        if (name && strcmp(json_string_value(json_object_get(fn, "name")), name) != 0)
            continue;
        json_t *s = call_schema(fn, args_key, defs);
        if (!s || !any || json_array_append_new(any, s)) {
            json_decref(any);
            json_decref(defs);
            return NULL;
        }
    }
    json_t *root = json_array_size(any) == 1 ? json_incref(json_array_get(any, 0))
                                             : json_pack("{s:O}", "anyOf", any);
    json_decref(any);
    if (root && f == TOOL_MISTRAL)
        root = json_pack("{s:s, s:o, s:i}", "type", "array", "items", root, "minItems", 1);
    if (root && json_object_update(root, defs)) {
        json_decref(root);
        root = NULL;
    }
    json_decref(defs);
    return root;
}

int tool_grammar_build(tool_format f, const json_t *tools, const char *name, bool parallel,
                       char **gbnf, grammar_error *err)
{
    *gbnf = NULL;
    json_t *schema = calls_schema(f, tools, name);
    if (!schema)
        return grammar_fail(err, "tool calls: out of memory building their schema");
    if (f == TOOL_MISTRAL && !parallel)
        json_object_set_new(schema, "maxItems", json_integer(1));
    else if (f == TOOL_MISTRAL)
        json_object_set_new(schema, "maxItems", json_integer(TOOL_GRAMMAR_MAX_CALLS));
    char *json_gbnf;
    int rc = grammar_from_json_schema(schema, &json_gbnf, err);
    json_decref(schema);
    if (rc)
        return -1;
    if (f == TOOL_MISTRAL) {
        *gbnf = json_gbnf;
        return 0;
    }
    /* The compiler's last line is "root ::= sN": the call's rule becomes part of ours. */
    char *root = strstr(json_gbnf, "root ::= ");
    for (char *next; root && (next = strstr(root + 1, "root ::= "));)
        root = next;
    unsigned call_rule;
    if (!root || sscanf(root, "root ::= s%u", &call_rule) != 1) {
        free(json_gbnf);
        return grammar_fail(err, "tool calls: the JSON schema grammar has no root rule");
    }
    *root = 0;
    const char *open = f == TOOL_HERMES ? "\"<tool_call>\\n\" " : "";
    const char *close = f == TOOL_HERMES ? " \"\\n</tool_call>\"" : "";
    const char *sep = f == TOOL_HERMES ? "\"\\n\" " : "\"; \" ";
    size_t cap = strlen(json_gbnf) + 256;
    *gbnf = malloc(cap);
    if (!*gbnf) {
        free(json_gbnf);
        return grammar_fail(err, "tool calls: out of memory writing their grammar");
    }
    int n = snprintf(*gbnf, cap, "%stool-call ::= %ss%u%s\nroot ::= tool-call", json_gbnf,
                     open, call_rule, close);
    if (parallel)
        n += snprintf(*gbnf + n, cap - (size_t)n, " (%stool-call){0,%d}", sep,
                      TOOL_GRAMMAR_MAX_CALLS - 1);
    snprintf(*gbnf + n, cap - (size_t)n, "\n");
    free(json_gbnf);
    return 0;
}
