/* Request fields → GBNF (structured_output.h), checked here by parsing the grammar once so
 * that a bad one is the client's 400 rather than a failed generation. */
#include "server/structured_output.h"

#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"

#define BAD(param, ...) api_fail(err, 400, param, NULL, __VA_ARGS__)

static int from_schema(json_t *schema, const char *param, char **gbnf, api_error *err)
{
    json_t *parsed = NULL;
    if (json_is_string(schema)) { /* guided_json may be the schema's JSON text */
        json_error_t jerr;
        parsed = json_loads(json_string_value(schema), 0, &jerr);
        if (!parsed)
            return BAD(param, "'%s' is not valid JSON: %s", param, jerr.text);
        schema = parsed;
    }
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        json_decref(parsed);
        return BAD(param, "'%s' must be a JSON schema (an object)", param);
    }
    grammar_error gerr;
    int rc = grammar_from_json_schema(schema, gbnf, &gerr);
    json_decref(parsed);
    return rc ? BAD(param, "'%s': %s", param, gerr.msg) : 0;
}

static int from_string(json_t *v, const char *param, int regex, char **gbnf, api_error *err)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return BAD(param, "'%s' must be a non-empty string", param);
    if (!regex) {
        *gbnf = strdup(json_string_value(v));
        return *gbnf ? 0 : api_fail(err, 500, NULL, NULL, "out of memory");
    }
    grammar_error gerr;
    if (grammar_from_regex(json_string_value(v), json_string_length(v), gbnf, &gerr))
        return BAD(param, "'%s': %s", param, gerr.msg);
    return 0;
}

static int from_choices(json_t *v, const char *param, char **gbnf, api_error *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0)
        return BAD(param, "'%s' must be a non-empty array of strings", param);
    const char **s = malloc(n * sizeof *s);
    size_t *lens = malloc(n * sizeof *lens);
    int rc = 0;
    if (!s || !lens)
        rc = api_fail(err, 500, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *c = json_array_get(v, i);
        if (!json_is_string(c) || json_string_length(c) == 0)
            rc = BAD(param, "'%s' item %zu is not a non-empty string", param, i);
        else
            s[i] = json_string_value(c), lens[i] = json_string_length(c);
    }
    grammar_error gerr;
    if (!rc && grammar_from_choices(s, lens, n, gbnf, &gerr))
        rc = BAD(param, "'%s': %s", param, gerr.msg);
    free(s);
    free(lens);
    return rc;
}

static int response_format(json_t *rf, char **gbnf, api_error *err)
{
    const char *type = json_is_object(rf) ? json_string_value(json_object_get(rf, "type")) : NULL;
    if (!type)
        return BAD("response_format", "'response_format' must be an object with a 'type'");
    if (!strcmp(type, "text"))
        return 0;
    if (!strcmp(type, "json_object")) {
        grammar_error gerr;
        return grammar_for_json_object(gbnf, &gerr)
                   ? api_fail(err, 500, NULL, NULL, "%s", gerr.msg) : 0;
    }
    if (strcmp(type, "json_schema") != 0)
        return BAD("response_format", "'response_format' of type '%.40s' is not supported "
                                      "(text, json_object or json_schema)", type);
    json_t *js = json_object_get(rf, "json_schema");
    if (!json_is_object(js))
        return BAD("response_format", "'response_format.json_schema' must be an object");
    json_t *schema = json_object_get(js, "schema");
    if (!schema)
        return BAD("response_format", "'response_format.json_schema.schema' is required");
    return from_schema(schema, "response_format.json_schema.schema", gbnf, err);
}

static int structured_outputs(json_t *so, char **gbnf, api_error *err)
{
    if (!json_is_object(so))
        return BAD("structured_outputs", "'structured_outputs' must be an object");
    json_t *v;
    if ((v = json_object_get(so, "json")))
        return from_schema(v, "structured_outputs.json", gbnf, err);
    if ((v = json_object_get(so, "regex")))
        return from_string(v, "structured_outputs.regex", 1, gbnf, err);
    if ((v = json_object_get(so, "choice")))
        return from_choices(v, "structured_outputs.choice", gbnf, err);
    if ((v = json_object_get(so, "grammar")))
        return from_string(v, "structured_outputs.grammar", 0, gbnf, err);
    if (json_is_true(json_object_get(so, "json_object"))) {
        grammar_error gerr;
        return grammar_for_json_object(gbnf, &gerr)
                   ? api_fail(err, 500, NULL, NULL, "%s", gerr.msg) : 0;
    }
    return BAD("structured_outputs", "'structured_outputs' needs one of json, regex, choice, "
                                     "grammar or json_object");
}

static json_t *present(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && !json_is_null(v) ? v : NULL;
}

int structured_output_parse(json_t *root, char **gbnf, api_error *err)
{
    static const char *const fields[] = {"response_format", "guided_json", "guided_regex",
                                         "guided_choice", "guided_grammar",
                                         "structured_outputs", NULL};
    *gbnf = NULL;
    const char *given = NULL;
    for (const char *const *f = fields; *f; f++) {
        json_t *v = present(root, *f);
        if (!v || (!strcmp(*f, "response_format") && json_is_object(v) &&
                   json_is_string(json_object_get(v, "type")) &&
                   !strcmp(json_string_value(json_object_get(v, "type")), "text")))
            continue;
        if (given)
            return BAD(*f, "'%s' and '%s' both constrain the output; give one", given, *f);
        given = *f;
    }
    if (!given)
        return 0;
    json_t *v = present(root, given);
    int rc;
    if (!strcmp(given, "response_format"))
        rc = response_format(v, gbnf, err);
    else if (!strcmp(given, "guided_json"))
        rc = from_schema(v, given, gbnf, err);
    else if (!strcmp(given, "guided_regex"))
        rc = from_string(v, given, 1, gbnf, err);
    else if (!strcmp(given, "guided_choice"))
        rc = from_choices(v, given, gbnf, err);
    else if (!strcmp(given, "guided_grammar"))
        rc = from_string(v, given, 0, gbnf, err);
    else
        rc = structured_outputs(v, gbnf, err);
    if (rc || !*gbnf)
        return rc;
    grammar *g;
    grammar_error gerr;
    if (grammar_parse(*gbnf, strlen(*gbnf), &g, &gerr)) {
        free(*gbnf);
        *gbnf = NULL;
        return BAD(given, "'%s': %s", given, gerr.msg);
    }
    grammar_free(g);
    return 0;
}
