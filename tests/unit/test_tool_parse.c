/* The tool-call parsers (hermes, mistral, llama3_json) on literal replies: calls with their
 * names and arguments as JSON text, the content outside them, and malformed replies given
 * back whole as content; the grammars of forced calls parse and accept a call. */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "server/tool_grammar.h"
#include "server/tool_parse.h"
#include "testutil.h"

typedef struct parse_case {
    tool_format f;
    bool forced;
    const char *text;
    const char *content;     /* NULL: none */
    const char *names[3];    /* the calls' names, NULL after the last */
    const char *args[3];     /* their arguments as canonical JSON */
} parse_case;

static const parse_case cases[] = {
    {TOOL_HERMES, false, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>",
     NULL, {"f"}, {"{\"a\": 1}"}},
    {TOOL_HERMES, false, "Let me look.\n<tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>\n"
                         "<tool_call>{\"name\":\"g\",\"arguments\":{\"q\":\"x y\"}}</tool_call>",
     "Let me look.\n", {"f", "g"}, {"{}", "{\"q\": \"x y\"}"}},
    /* left open at the end, as vLLM reads it; arguments as a JSON string */
    {TOOL_HERMES, false, "<tool_call>{\"name\":\"f\",\"arguments\":\"{\\\"b\\\":[1,2]}\"}",
     NULL, {"f"}, {"{\"b\": [1, 2]}"}},
    {TOOL_HERMES, false, "no calls here", "no calls here", {NULL}, {NULL}},
    {TOOL_HERMES, false, "<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":}</tool_call>",
     "<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":}</tool_call>", {NULL}, {NULL}},
    {TOOL_HERMES, false, "<tool_call>{\"arguments\":{}}</tool_call>",
     "<tool_call>{\"arguments\":{}}</tool_call>", {NULL}, {NULL}},
    {TOOL_HERMES, false, "<tool_call>{\"name\":\"f\",\"arguments\":{}} trailing</tool_call>",
     "<tool_call>{\"name\":\"f\",\"arguments\":{}} trailing</tool_call>", {NULL}, {NULL}},
    {TOOL_HERMES, false, "<tool_call>", "<tool_call>", {NULL}, {NULL}},
    {TOOL_MISTRAL, false, "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": \"b\"}}, "
                          "{\"name\": \"g\", \"arguments\": {}}]",
     NULL, {"f", "g"}, {"{\"a\": \"b\"}", "{}"}},
    {TOOL_MISTRAL, false, "Sure. [TOOL_CALLS]{\"name\": \"f\", \"arguments\": {}}", "Sure. ",
     {"f"}, {"{}"}},
    {TOOL_MISTRAL, false, "[TOOL_CALLS]f[ARGS]{\"x\": 2}[TOOL_CALLS]g[ARGS]{}", NULL,
     {"f", "g"}, {"{\"x\": 2}", "{}"}},
    {TOOL_MISTRAL, true, "[{\"name\": \"f\", \"arguments\": {\"n\": null}}]", NULL, {"f"},
     {"{\"n\": null}"}},
    {TOOL_MISTRAL, false, "[{\"name\": \"f\", \"arguments\": {}}]",
     "[{\"name\": \"f\", \"arguments\": {}}]", {NULL}, {NULL}}, /* no marker, not forced */
    {TOOL_MISTRAL, false, "[TOOL_CALLS][{\"name\": \"f\"", "[TOOL_CALLS][{\"name\": \"f\"",
     {NULL}, {NULL}},
    {TOOL_MISTRAL, false, "[TOOL_CALLS]f[ARGS]", "[TOOL_CALLS]f[ARGS]", {NULL}, {NULL}},
    {TOOL_MISTRAL, false, "[TOOL_CALLS][ARGS]{}", "[TOOL_CALLS][ARGS]{}", {NULL}, {NULL}},
    {TOOL_LLAMA3_JSON, false, "{\"name\": \"f\", \"parameters\": {\"a\": 1.5}}", NULL, {"f"},
     {"{\"a\": 1.5}"}},
    {TOOL_LLAMA3_JSON, false, "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}; "
                              "{\"name\": \"g\", \"arguments\": {\"z\": true}}",
     NULL, {"f", "g"}, {"{}", "{\"z\": true}"}},
    {TOOL_LLAMA3_JSON, false, "It is sunny. {\"name\": \"f\", \"parameters\": {}}",
     "It is sunny. {\"name\": \"f\", \"parameters\": {}}", {NULL}, {NULL}},
    {TOOL_LLAMA3_JSON, false, "{\"name\": \"f\", \"parameters\": {}} and more",
     "{\"name\": \"f\", \"parameters\": {}} and more", {NULL}, {NULL}},
    {TOOL_LLAMA3_JSON, false, "{\"name\": 3, \"parameters\": {}}",
     "{\"name\": 3, \"parameters\": {}}", {NULL}, {NULL}},
    {TOOL_LLAMA3_JSON, false, "   ", NULL, {NULL}, {NULL}},
};

static void check_case(const parse_case *c)
{
    tool_parse_result r;
    assert_int_equal(tool_parse(c->f, c->text, strlen(c->text), c->forced, &r), 0);
    if (c->content)
        assert_non_null(r.content), assert_string_equal(r.content, c->content);
    else if (r.content)
        fail_msg("%s: content '%s', expected none", c->text, r.content);
    size_t n = 0;
    while (n < 3 && c->names[n])
        n++;
    if (json_array_size(r.calls) != n)
        fail_msg("%s: %zu calls, expected %zu", c->text, json_array_size(r.calls), n);
    for (size_t i = 0; i < n; i++) {
        json_t *call = json_array_get(r.calls, i), *fn = json_object_get(call, "function");
        assert_string_equal(json_string_value(json_object_get(call, "type")), "function");
        const char *id = json_string_value(json_object_get(call, "id"));
        assert_non_null(id);
        if (c->f == TOOL_MISTRAL)
            assert_int_equal(strlen(id), 9);
        else
            assert_int_equal(strncmp(id, "chatcmpl-tool-", 14), 0);
        assert_string_equal(json_string_value(json_object_get(fn, "name")), c->names[i]);
        assert_string_equal(json_string_value(json_object_get(fn, "arguments")), c->args[i]);
    }
    tool_parse_result_free(&r);
}

static void test_parse_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

static void test_format_names(void **state)
{
    (void)state;
    tool_format f;
    assert_int_equal(tool_format_parse("llama3_json", &f), 0);
    assert_int_equal(f, TOOL_LLAMA3_JSON);
    assert_string_equal(tool_format_name(TOOL_MISTRAL), "mistral");
    assert_int_equal(tool_format_parse("pythonic", &f), -1);
    assert_int_equal(tool_format_detect("{{'<|im_start|>'}}", false), TOOL_HERMES);
    assert_int_equal(tool_format_detect(NULL, true), TOOL_MISTRAL);
    assert_int_equal(tool_format_detect("<|start_header_id|>", false), TOOL_LLAMA3_JSON);
}

/* Feeds text to a grammar's matcher: true when it is a whole sentence. */
static bool grammar_takes(const char *gbnf, const char *text)
{
    grammar *g;
    grammar_matcher *m;
    grammar_error err;
    if (grammar_parse(gbnf, strlen(gbnf), &g, &err))
        fail_msg("%s\n%s", err.msg, gbnf);
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    int rc = grammar_matcher_accept(m, text, strlen(text), &err);
    bool ok = rc == 0 && grammar_matcher_complete(m);
    grammar_matcher_destroy(m);
    grammar_free(g);
    return ok;
}

static void test_forced_grammars(void **state)
{
    (void)state;
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"h\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"p\":{\"$ref\":\"#/$defs/pt\"}},\"required\":[\"p\"],"
        "\"$defs\":{\"pt\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":2}}}}}]",
        0, NULL);
    assert_non_null(tools);
    static const struct {
        tool_format f;
        const char *name;
        bool parallel;
        const char *good, *bad;
    } g[] = {
        {TOOL_HERMES, NULL, true,
         "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"n\": 3}}\n</tool_call>\n"
         "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"h\", \"arguments\": {}}\n</tool_call>"},
        {TOOL_HERMES, "g", false, "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"n\": 3}}\n</tool_call>"},
        {TOOL_MISTRAL, NULL, false, "[{\"name\": \"f\", \"arguments\": {\"n\": -1}}]",
         "[{\"name\": \"f\", \"arguments\": {\"n\": 1}}, {\"name\": \"g\", \"arguments\": {}}]"},
        /* the tool's $defs still resolve inside the call's schema */
        {TOOL_HERMES, "h", false, "<tool_call>\n{\"name\": \"h\", \"arguments\": {\"p\": [1, 2]}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"h\", \"arguments\": {\"p\": [1, 2, 3]}}\n</tool_call>"},
        {TOOL_LLAMA3_JSON, "f", true, "{\"name\": \"f\", \"parameters\": {\"n\": 0}}; "
                                      "{\"name\": \"f\", \"parameters\": {\"n\": 1}}",
         "{\"name\": \"f\", \"parameters\": {\"n\": \"x\"}}"},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        char *gbnf;
        grammar_error err;
        assert_int_equal(tool_grammar_build(g[i].f, tools, g[i].name, g[i].parallel, &gbnf, &err), 0);
        if (!grammar_takes(gbnf, g[i].good))
            fail_msg("case %zu refuses %s\n%s", i, g[i].good, gbnf);
        if (grammar_takes(gbnf, g[i].bad))
            fail_msg("case %zu takes %s", i, g[i].bad);
        /* What the grammar forces, the parser reads. */
        tool_parse_result r;
        assert_int_equal(tool_parse(g[i].f, g[i].good, strlen(g[i].good), true, &r), 0);
        assert_true(json_array_size(r.calls) >= 1);
        tool_parse_result_free(&r);
        free(gbnf);
    }
    json_decref(tools);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cases),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_forced_grammars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
