/* JSON Schema → GBNF (compile.h). Each subschema becomes a rule "s<N>"; a $ref becomes the
 * rule of its target, compiled once, so recursive schemas are recursive rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"
#include "grammar/gbnf_text.h"
#include "grammar/regex_internal.h"

enum { MAX_SCHEMA_DEPTH = 64, MAX_REFS = 256 };

/* The rules every JSON grammar uses. */
static const char prelude[] =
    "ws ::= ([ \\t] | \"\\n\" [ \\t]{0,20})?\n"
    "jchar ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
    "jstring ::= \"\\\"\" jchar* \"\\\"\"\n"
    "jint ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"
    "jnum ::= jint (\".\" [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?\n"
    "jbool ::= \"true\" | \"false\"\n"
    "jnull ::= \"null\"\n"
    "jvalue ::= jobject | jarray | jstring | jnum | jbool | jnull\n"
    "jmember ::= jstring ws \":\" ws jvalue\n"
    "jobject ::= \"{\" ws (jmember (ws \",\" ws jmember)* ws)? \"}\"\n"
    "jarray ::= \"[\" ws (jvalue (ws \",\" ws jvalue)* ws)? \"]\"\n";

typedef struct ref_rule {
    char *ref;
    unsigned rule;
} ref_rule;

typedef struct sc {
    gbnf_buf out;
    const json_t *root;
    unsigned n_rules;
    ref_rule refs[MAX_REFS];
    size_t n_refs;
    int depth;
    char path[256];      /* where in the schema, for messages: "#/properties/a/items" */
    grammar_error *err;
} sc;

static int bad(sc *c, const char *fmt, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, what);
    return grammar_fail(c->err, "JSON schema: %s (at %s)", msg, c->path[0] ? c->path : "#");
}

/* Appends "/seg" to the path; returns the old length for path_pop. */
static size_t path_push(sc *c, const char *seg)
{
    size_t n = strlen(c->path);
    snprintf(c->path + n, sizeof c->path - n, "%s%s", n ? "/" : "#/", seg);
    return n;
}

static void path_pop(sc *c, size_t n) { c->path[n] = 0; }

static int compile(sc *c, const json_t *s, unsigned *rule);

static const char *const annotations[] = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "$defs", "definitions", "strict", NULL};

static int is_annotation(const char *k)
{
    for (const char *const *a = annotations; *a; a++)
        if (!strcmp(k, *a))
            return 1;
    return 0;
}

static const char *const supported[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems",
    "maxItems", "enum", "const", "anyOf", "oneOf", "$ref", "pattern", "minLength",
    "maxLength", NULL};

static int check_keywords(sc *c, const json_t *s)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        if (is_annotation(k))
            continue;
        int ok = 0;
        for (const char *const *a = supported; *a && !ok; a++)
            ok = !strcmp(k, *a);
        if (!ok)
            return bad(c, "'%s' is not supported", k);
    }
    return 0;
}

/* Starts rule s<N>: "s<N> ::= ". */
static unsigned new_rule(sc *c)
{
    unsigned r = c->n_rules++;
    gbnf_printf(&c->out, "s%u ::= ", r);
    return r;
}

static int literal_json(sc *c, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return grammar_fail(c->err, "JSON schema: out of memory");
    gbnf_literal(&c->out, text, strlen(text));
    free(text);
    return 0;
}

static int compile_enum(sc *c, const json_t *e, unsigned *rule)
{
    if (!json_is_array(e))
        return bad(c, "'%s' must be an array", "enum");
    if (json_array_size(e) == 0)
        return bad(c, "'%s' is empty: no value can match", "enum");
    *rule = new_rule(c);
    for (size_t i = 0; i < json_array_size(e); i++) {
        if (i)
            gbnf_printf(&c->out, " | ");
        if (literal_json(c, json_array_get(e, i)))
            return -1;
    }
    gbnf_printf(&c->out, "\n");
    return 0;
}

static int compile_any_of(sc *c, const json_t *list, const char *kw, unsigned *rule)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return bad(c, "'%s' must be a non-empty array of schemas", kw);
    size_t n = json_array_size(list);
    unsigned *subs = malloc(n * sizeof *subs);
    if (!subs)
        return grammar_fail(c->err, "JSON schema: out of memory");
    for (size_t i = 0; i < n; i++) {
        char seg[48];
        snprintf(seg, sizeof seg, "%s/%zu", kw, i);
        size_t at = path_push(c, seg);
        int rc = compile(c, json_array_get(list, i), &subs[i]);
        path_pop(c, at);
        if (rc) {
            free(subs);
            return -1;
        }
    }
    *rule = new_rule(c);
    for (size_t i = 0; i < n; i++)
        gbnf_printf(&c->out, "%ss%u", i ? " | " : "", subs[i]);
    gbnf_printf(&c->out, "\n");
    free(subs);
    return 0;
}

/* "#", "#/$defs/name", "#/definitions/name" (JSON pointer escapes ~0 ~1). */
static int resolve_ref(sc *c, const char *ref, const json_t **out)
{
    if (!strcmp(ref, "#")) {
        *out = c->root;
        return 0;
    }
    const char *name = NULL, *kw = NULL;
    if (!strncmp(ref, "#/$defs/", 8))
        name = ref + 8, kw = "$defs";
    else if (!strncmp(ref, "#/definitions/", 14))
        name = ref + 14, kw = "definitions";
    if (!name || strchr(name, '/'))
        return bad(c, "'$ref' '%.80s' is not supported (only \"#\", \"#/$defs/NAME\" and "
                      "\"#/definitions/NAME\")", ref);
    char key[256];
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < sizeof key; p++) {
        if (p[0] == '~' && (p[1] == '0' || p[1] == '1'))
            key[k++] = p[1] == '0' ? '~' : '/', p++;
        else
            key[k++] = *p;
    }
    key[k] = 0;
    const json_t *t = json_object_get(json_object_get(c->root, kw), key);
    if (!t)
        return bad(c, "'$ref' '%.80s' names no definition", ref);
    *out = t;
    return 0;
}

static int compile_ref(sc *c, const char *ref, unsigned *rule)
{
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref)) {
            *rule = c->refs[i].rule;
            return 0;
        }
    const json_t *target = NULL;
    if (resolve_ref(c, ref, &target))
        return -1;
    if (c->n_refs == MAX_REFS)
        return bad(c, "more than %s distinct '$ref' targets", "256");
    /* The rule's number is reserved before compiling the target, so that a reference
     * back to it inside the target finds it. */
    unsigned r = c->n_rules++;
    char *copy = strdup(ref);
    if (!copy)
        return grammar_fail(c->err, "JSON schema: out of memory");
    c->refs[c->n_refs++] = (ref_rule){copy, r};
    unsigned body;
    char saved[sizeof c->path];
    memcpy(saved, c->path, sizeof saved);
    snprintf(c->path, sizeof c->path, "%s", ref);
    int rc = compile(c, target, &body);
    memcpy(c->path, saved, sizeof saved);
    if (rc)
        return -1;
    gbnf_printf(&c->out, "s%u ::= s%u\n", r, body);
    *rule = r;
    return 0;
}

static int get_count(sc *c, const json_t *s, const char *kw, long long dflt, long long *out)
{
    const json_t *v = json_object_get(s, kw);
    *out = dflt;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(c, "'%s' must be a non-negative integer", kw);
    if (json_integer_value(v) > 10000)
        return bad(c, "'%s' above 10000 is not supported", kw);
    *out = json_integer_value(v);
    return 0;
}

static int compile_string(sc *c, const json_t *s, unsigned *rule)
{
    long long lo, hi;
    if (get_count(c, s, "minLength", 0, &lo) || get_count(c, s, "maxLength", -1, &hi))
        return -1;
    if (hi >= 0 && lo > hi)
        return bad(c, "%s: no string can match", "minLength is above maxLength");
    const json_t *pat = json_object_get(s, "pattern");
    if (pat) {
        if (!json_is_string(pat))
            return bad(c, "'%s' must be a string", "pattern");
        if (json_object_get(s, "minLength") || json_object_get(s, "maxLength"))
            return bad(c, "'%s' together with minLength or maxLength is not supported",
                       "pattern");
        *rule = new_rule(c);
        gbnf_printf(&c->out, "\"\\\"\" ");
        if (regex_emit(&c->out, json_string_value(pat), json_string_length(pat), 1, 0, c->err)) {
            char msg[160];
            snprintf(msg, sizeof msg, "%.150s", c->err ? c->err->msg : "");
            return bad(c, "'pattern': %s", msg);
        }
        gbnf_printf(&c->out, " \"\\\"\"\n");
        return 0;
    }
    *rule = new_rule(c);
    if (hi < 0)
        gbnf_printf(&c->out, "\"\\\"\" jchar{%lld,} \"\\\"\"\n", lo);
    else
        gbnf_printf(&c->out, "\"\\\"\" jchar{%lld,%lld} \"\\\"\"\n", lo, hi);
    return 0;
}

static int compile_array(sc *c, const json_t *s, unsigned *rule)
{
    long long lo, hi;
    if (get_count(c, s, "minItems", 0, &lo) || get_count(c, s, "maxItems", -1, &hi))
        return -1;
    if (hi >= 0 && lo > hi)
        return bad(c, "%s: no array can match", "minItems is above maxItems");
    const json_t *items = json_object_get(s, "items");
    unsigned item = 0;
    int any = !items || json_is_true(items);
    if (items && json_is_false(items)) {
        if (lo > 0)
            return bad(c, "%s: no array can match", "items false with minItems above 0");
        hi = 0;
        any = 1;
    }
    if (!any) {
        size_t at = path_push(c, "items");
        int rc = compile(c, items, &item);
        path_pop(c, at);
        if (rc)
            return -1;
    }
    char name[16];
    snprintf(name, sizeof name, any ? "jvalue" : "s%u", item);
    *rule = new_rule(c);
    if (hi == 0) {
        gbnf_printf(&c->out, "\"[\" ws \"]\"\n");
        return 0;
    }
    gbnf_printf(&c->out, "\"[\" ws %s%s (ws \",\" ws %s)", lo ? "" : "(", name, name);
    if (hi < 0)
        gbnf_printf(&c->out, "{%lld,}", lo ? lo - 1 : 0);
    else
        gbnf_printf(&c->out, "{%lld,%lld}", lo ? lo - 1 : 0, hi - 1);
    gbnf_printf(&c->out, " ws%s \"]\"\n", lo ? "" : ")?");
    return 0;
}

/* An object with properties: the members in order, required ones always, optional ones
 * maybe, commas between those present. first_i: the members from i on, at least one;
 * rest_i: the members from i on, each after a comma. */
static int compile_properties(sc *c, const json_t *s, const json_t *props, unsigned *rule)
{
    const json_t *req = json_object_get(s, "required");
    if (req && !json_is_array(req))
        return bad(c, "'%s' must be an array of names", "required");
    size_t n = json_object_size(props);
    for (size_t i = 0; req && i < json_array_size(req); i++) {
        const json_t *name = json_array_get(req, i);
        if (!json_is_string(name))
            return bad(c, "'%s' must be an array of names", "required");
        if (!json_object_get(props, json_string_value(name)))
            return bad(c, "required property '%.80s' is not in 'properties' and no other "
                          "property is allowed: no object can match", json_string_value(name));
    }
    unsigned *member = malloc((n + 1) * sizeof *member);
    unsigned char *required = calloc(n + 1, 1);
    if (!member || !required) {
        free(member);
        free(required);
        return grammar_fail(c->err, "JSON schema: out of memory");
    }
    const char *key;
    const json_t *v;
    size_t i = 0;
    int rc = 0;
    void *it = json_object_iter((json_t *)props);
    for (; it && !rc; it = json_object_iter_next((json_t *)props, it), i++) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        for (size_t k = 0; req && k < json_array_size(req); k++)
            required[i] |= !strcmp(json_string_value(json_array_get(req, k)), key);
        char seg[160];
        snprintf(seg, sizeof seg, "properties/%.140s", key);
        size_t at = path_push(c, seg);
        unsigned value;
        rc = compile(c, v, &value);
        path_pop(c, at);
        if (rc)
            break;
        member[i] = new_rule(c);
        json_t *ks = json_string(key);
        rc = !ks || literal_json(c, ks);
        json_decref(ks);
        gbnf_printf(&c->out, " ws \":\" ws s%u\n", value);
    }
    /* rest_n is empty; rest_i ::= "," member_i rest_{i+1}, optional when i is. */
    unsigned base = c->n_rules;
    c->n_rules += 2 * (unsigned)n + 2;
    for (size_t k = 0; k <= n && !rc; k++) {
        unsigned rest = base + 2 * (unsigned)k, first = rest + 1;
        if (k == n) {
            gbnf_printf(&c->out, "s%u ::= \"\"\n", rest);
            continue;
        }
        unsigned rest_next = rest + 2, first_next = first + 2;
        if (required[k])
            gbnf_printf(&c->out, "s%u ::= ws \",\" ws s%u s%u\n", rest, member[k], rest_next);
        else
            gbnf_printf(&c->out, "s%u ::= (ws \",\" ws s%u)? s%u\n", rest, member[k], rest_next);
        /* first_k: member k then rest; or, when k is optional and a later member exists,
         * skip it. */
        gbnf_printf(&c->out, "s%u ::= s%u s%u", first, member[k], rest_next);
        if (!required[k] && k + 1 < n)
            gbnf_printf(&c->out, " | s%u", first_next);
        gbnf_printf(&c->out, "\n");
    }
    int any_required = 0;
    for (size_t k = 0; k < n; k++)
        any_required |= required[k];
    if (!rc) {
        *rule = new_rule(c);
        if (n == 0)
            gbnf_printf(&c->out, "\"{\" ws \"}\"\n");
        else
            gbnf_printf(&c->out, "\"{\" ws %ss%u ws%s \"}\"\n", any_required ? "" : "(",
                        base + 1, any_required ? "" : ")?");
    }
    free(member);
    free(required);
    return rc;
}

static int compile_object(sc *c, const json_t *s, unsigned *rule)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *extra = json_object_get(s, "additionalProperties");
    if (props) {
        if (!json_is_object(props))
            return bad(c, "'%s' must be an object", "properties");
        if (extra && !json_is_false(extra))
            return bad(c, "'%s' other than false beside 'properties' is not supported",
                       "additionalProperties");
        return compile_properties(c, s, props, rule);
    }
    const json_t *req = json_object_get(s, "required");
    if (req && json_array_size(req))
        return bad(c, "'%s' without 'properties' is not supported", "required");
    if (!extra || json_is_true(extra)) {
        *rule = new_rule(c);
        gbnf_printf(&c->out, "jobject\n");
        return 0;
    }
    if (json_is_false(extra)) {
        *rule = new_rule(c);
        gbnf_printf(&c->out, "\"{\" ws \"}\"\n");
        return 0;
    }
    unsigned value;
    size_t at = path_push(c, "additionalProperties");
    int rc = compile(c, extra, &value);
    path_pop(c, at);
    if (rc)
        return -1;
    *rule = new_rule(c);
    gbnf_printf(&c->out,
                "\"{\" ws (jstring ws \":\" ws s%u (ws \",\" ws jstring ws \":\" ws s%u)* ws)? \"}\"\n",
                value, value);
    return 0;
}

static int compile_type(sc *c, const json_t *s, const char *type, unsigned *rule)
{
    static const struct {
        const char *name, *rule;
    } simple[] = {{"integer", "jint"}, {"number", "jnum"}, {"boolean", "jbool"},
                  {"null", "jnull"}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (!strcmp(type, simple[i].name)) {
            *rule = new_rule(c);
            gbnf_printf(&c->out, "%s\n", simple[i].rule);
            return 0;
        }
    if (!strcmp(type, "string"))
        return compile_string(c, s, rule);
    if (!strcmp(type, "array"))
        return compile_array(c, s, rule);
    if (!strcmp(type, "object"))
        return compile_object(c, s, rule);
    return bad(c, "type '%.40s' is not a JSON Schema type", type);
}

static int compile(sc *c, const json_t *s, unsigned *rule)
{
    if (json_is_true(s) || (json_is_object(s) && json_object_size(s) == 0)) {
        *rule = new_rule(c);
        gbnf_printf(&c->out, "jvalue\n");
        return 0;
    }
    if (json_is_false(s))
        return bad(c, "%s", "the schema false matches nothing");
    if (!json_is_object(s))
        return bad(c, "%s", "a schema must be an object or a boolean");
    if (++c->depth > MAX_SCHEMA_DEPTH)
        return bad(c, "schemas nested more than %s deep", "64");
    int rc = check_keywords(c, s);
    const json_t *v, *type = json_object_get(s, "type");
    if (rc) {
    } else if ((v = json_object_get(s, "$ref"))) {
        rc = json_is_string(v) ? compile_ref(c, json_string_value(v), rule)
                               : bad(c, "'%s' must be a string", "$ref");
    } else if ((v = json_object_get(s, "const"))) {
        *rule = new_rule(c);
        rc = literal_json(c, v);
        gbnf_printf(&c->out, "\n");
    } else if ((v = json_object_get(s, "enum"))) {
        rc = compile_enum(c, v, rule);
    } else if ((v = json_object_get(s, "anyOf")) || (v = json_object_get(s, "oneOf"))) {
        if (type)
            rc = bad(c, "'type' beside '%s' is not supported", json_object_get(s, "anyOf")
                                                                   ? "anyOf" : "oneOf");
        else
            rc = compile_any_of(c, v, json_object_get(s, "anyOf") ? "anyOf" : "oneOf", rule);
    } else if (json_is_string(type)) {
        rc = compile_type(c, s, json_string_value(type), rule);
    } else if (json_is_array(type)) {
        size_t n = json_array_size(type);
        unsigned *subs = malloc((n ? n : 1) * sizeof *subs);
        if (!subs)
            rc = grammar_fail(c->err, "JSON schema: out of memory");
        if (!rc && n == 0)
            rc = bad(c, "%s", "'type' is an empty list: no value can match");
        for (size_t i = 0; i < n && !rc; i++)
            rc = json_is_string(json_array_get(type, i))
                     ? compile_type(c, s, json_string_value(json_array_get(type, i)), &subs[i])
                     : bad(c, "'%s' must hold type names", "type");
        if (!rc) {
            *rule = new_rule(c);
            for (size_t i = 0; i < n; i++)
                gbnf_printf(&c->out, "%ss%u", i ? " | " : "", subs[i]);
            gbnf_printf(&c->out, "\n");
        }
        free(subs);
    } else if (type) {
        rc = bad(c, "'%s' must be a type name or a list of them", "type");
    } else if (json_object_get(s, "properties") || json_object_get(s, "additionalProperties") ||
               json_object_get(s, "required")) {
        rc = compile_object(c, s, rule);
    } else if (json_object_get(s, "items") || json_object_get(s, "minItems") ||
               json_object_get(s, "maxItems")) {
        rc = compile_array(c, s, rule);
    } else if (json_object_get(s, "pattern") || json_object_get(s, "minLength") ||
               json_object_get(s, "maxLength")) {
        rc = compile_string(c, s, rule);
    } else {
        *rule = new_rule(c);
        gbnf_printf(&c->out, "jvalue\n");
    }
    c->depth--;
    return rc;
}

static int finish(sc *c, int rc, char **gbnf)
{
    for (size_t i = 0; i < c->n_refs; i++)
        free(c->refs[i].ref);
    if (!rc && c->out.oom)
        rc = grammar_fail(c->err, "JSON schema: out of memory writing the grammar");
    if (rc) {
        gbnf_buf_free(&c->out);
        return -1;
    }
    *gbnf = c->out.p;
    return 0;
}

int grammar_from_json_schema(const json_t *schema, char **gbnf, grammar_error *err)
{
    *gbnf = NULL;
    sc c = {.root = schema, .err = err};
    gbnf_printf(&c.out, "%s", prelude);
    unsigned top;
    int rc = compile(&c, schema, &top);
    if (!rc)
        gbnf_printf(&c.out, "root ::= s%u\n", top);
    return finish(&c, rc, gbnf);
}

int grammar_for_json_object(char **gbnf, grammar_error *err)
{
    *gbnf = NULL;
    sc c = {.err = err};
    gbnf_printf(&c.out, "%sroot ::= jobject\n", prelude);
    return finish(&c, 0, gbnf);
}
