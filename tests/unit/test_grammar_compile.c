/* The compilers to GBNF (grammar/compile.h): JSON Schema, json_object, regex and choices,
 * by the texts their grammars accept and refuse, and the errors that name what a schema
 * or pattern asks beyond the supported subset. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"

/* 1 accepted whole, 0 a prefix only, -1 refused. */
static int run(const char *gbnf, const char *text)
{
    grammar *g;
    grammar_error err;
    if (grammar_parse(gbnf, strlen(gbnf), &g, &err))
        fail_msg("the compiled grammar does not parse: %s\n%s", err.msg, gbnf);
    grammar_matcher *m;
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    int rc = grammar_matcher_accept(m, text, strlen(text), &err);
    assert_true(rc == 0 || rc == 1);
    int r = rc ? -1 : grammar_matcher_complete(m) ? 1 : 0;
    grammar_matcher_destroy(m);
    grammar_free(g);
    return r;
}

static char *schema_grammar(const char *schema_json)
{
    json_error_t jerr;
    json_t *s = json_loads(schema_json, 0, &jerr);
    if (!s)
        fail_msg("bad test schema %s: %s", schema_json, jerr.text);
    char *gbnf;
    grammar_error err;
    if (grammar_from_json_schema(s, &gbnf, &err))
        fail_msg("schema %s: %s", schema_json, err.msg);
    json_decref(s);
    return gbnf;
}

typedef struct sample {
    const char *text;
    int want;
} sample;

static void check_schema(const char *schema, const sample *samples, size_t n)
{
    char *g = schema_grammar(schema);
    for (size_t i = 0; i < n; i++) {
        int got = run(g, samples[i].text);
        if (got != samples[i].want)
            fail_msg("schema %s, text %s: got %d, want %d", schema, samples[i].text, got,
                     samples[i].want);
    }
    free(g);
}

#define CHECK(schema, ...)                                                                  \
    do {                                                                                    \
        const sample s_[] = {__VA_ARGS__};                                                  \
        check_schema(schema, s_, sizeof s_ / sizeof s_[0]);                                 \
    } while (0)

static void test_objects(void **state)
{
    CHECK("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
          "\"b\":{\"type\":\"string\",\"maxLength\":3},\"c\":{\"type\":\"boolean\"}},"
          "\"required\":[\"b\"]}",
          {"{\"b\":\"xy\"}", 1}, {"{\"a\":-12,\"b\":\"\"}", 1},
          {"{ \"a\": 0, \"b\": \"abc\", \"c\": true }", 1},
          {"{\"b\":\"x\",\"c\":false}", 1},
          {"{\"a\":1}", -1},                  /* b is required */
          {"{\"b\":\"x\",\"a\":1}", -1},      /* properties in their order */
          {"{\"b\":\"abcd\"}", -1},           /* maxLength */
          {"{\"b\":\"x\",\"d\":1}", -1},      /* no other member */
          {"{\"a\":01,\"b\":\"x\"}", -1},     /* no leading zero */
          {"{\"b\":\"\\u00e9\\n\"}", 1}, {"{\"b\":\"x\"", 0});
    CHECK("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"null\"},\"y\":{\"type\":\"number\"}}}",
          {"{}", 1}, {"{\"y\":1.5e-3}", 1}, {"{\"x\":null,\"y\":-0.25}", 1}, {"{,}", -1},
          {"{\"x\":null,}", -1});
    CHECK("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
          {"{\"any\":1,\"key\":2}", 1}, {"{\"k\":\"v\"}", -1});
    CHECK("{\"type\":\"object\"}", {"{\"k\":[1,{\"x\":null}],\"s\":\"v\"}", 1}, {"[]", -1});
}

static void test_white_space_is_bounded(void **state)
{
    CHECK("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
          {"[ 1,\n   2 ]", 1}, {"[1 ,2]", 1}, {"[  1]", -1}, {"[\n                     1]", -1},
          {"[\n                    1]", 1});
}

static void test_arrays_enums_consts(void **state)
{
    CHECK("{\"type\":\"array\",\"items\":{\"enum\":[\"a\",1,null]},\"minItems\":2,\"maxItems\":3}",
          {"[\"a\",1]", 1}, {"[null,null,\"a\"]", 1}, {"[1]", -1}, {"[1", 0}, {"[1,1,1,1]", -1},
          {"[\"b\",1]", -1});
    CHECK("{\"type\":\"array\",\"maxItems\":0}", {"[]", 1}, {"[1]", -1});
    CHECK("{\"const\":{\"k\":[true,\"\\u00e9\"]}}", {"{\"k\":[true,\"é\"]}", 1},
          {"{\"k\":[false]}", -1});
    CHECK("{\"type\":[\"integer\",\"null\"]}", {"null", 1}, {"7", 1}, {"7.5", -1});
    CHECK("{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"string\",\"maxLength\":1}]}",
          {"true", 1}, {"\"q\"", 1}, {"1", -1});
}

static void test_refs_and_recursion(void **state)
{
    CHECK("{\"$defs\":{\"t\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\","
          "\"items\":{\"$ref\":\"#/$defs/t\"}}},\"required\":[\"kids\"]}},\"$ref\":\"#/$defs/t\"}",
          {"{\"kids\":[]}", 1}, {"{\"kids\":[{\"kids\":[{\"kids\":[]}]}]}", 1},
          {"{\"kids\":[{}]}", -1});
    CHECK("{\"type\":\"array\",\"items\":{\"anyOf\":[{\"type\":\"integer\"},{\"$ref\":\"#\"}]},"
          "\"maxItems\":2}",
          {"[1,[2,[]]]", 1}, {"[[[[]]]]", 1}, {"[1,2,3]", -1});
}

static void test_patterns(void **state)
{
    CHECK("{\"type\":\"string\",\"pattern\":\"^[a-z]{2}-\\\\d{2,3}$\"}",
          {"\"ab-12\"", 1}, {"\"ab-123\"", 1}, {"\"ab-1\"", -1}, {"\"ab-1", 0}, {"\"Ab-12\"", -1},
          {"\"ab-1234\"", -1});
    /* A quote or backslash of the pattern is written escaped inside the JSON string. */
    CHECK("{\"type\":\"string\",\"pattern\":\"^a\\\"b\\\\\\\\$\"}", {"\"a\\\"b\\\\\"", 1},
          {"\"a\"b\\\"", -1});
    /* Unanchored, as JSON Schema's pattern is a search. */
    CHECK("{\"type\":\"string\",\"pattern\":\"x+\"}", {"\"aaxxbb\"", 1}, {"\"ab", 0}, {"\"ab\"", -1});
    CHECK("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", {"\"ab\"", 1}, {"\"a\"", -1}, {"\"a", 0},
          {"\"abcd\"", -1}, {"\"😀é\"", 1});
}

static void expect_schema_error(const char *schema_json, const char *needle)
{
    json_t *s = json_loads(schema_json, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    char *gbnf = NULL;
    grammar_error err = {{0}};
    assert_int_equal(grammar_from_json_schema(s, &gbnf, &err), -1);
    assert_null(gbnf);
    json_decref(s);
    if (!strstr(err.msg, needle))
        fail_msg("schema %s: error '%s' lacks '%s'", schema_json, err.msg, needle);
}

static void test_schema_errors(void **state)
{
    expect_schema_error("{\"type\":\"integer\",\"minimum\":1}", "'minimum' is not supported (at #)");
    expect_schema_error("{\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"uri\"}}}",
                        "'format' is not supported (at #/properties/a)");
    expect_schema_error("{\"allOf\":[{}]}", "'allOf' is not supported");
    expect_schema_error("{\"type\":\"array\",\"items\":{\"uniqueItems\":true}}",
                        "at #/items");
    expect_schema_error("{\"type\":\"array\",\"minItems\":2,\"maxItems\":1}", "minItems is above maxItems");
    expect_schema_error("{\"type\":\"string\",\"minLength\":5,\"maxLength\":1}", "minLength is above maxLength");
    expect_schema_error("{\"enum\":[]}", "'enum' is empty");
    expect_schema_error("{\"type\":\"strin\"}", "type 'strin' is not a JSON Schema type");
    expect_schema_error("{\"$ref\":\"#/$defs/x\"}", "names no definition");
    expect_schema_error("{\"$ref\":\"other.json#/a\"}", "is not supported");
    expect_schema_error("{\"properties\":{\"a\":{}},\"required\":[\"b\"]}",
                        "required property 'b' is not in 'properties'");
    expect_schema_error("{\"properties\":{\"a\":{}},\"additionalProperties\":true}",
                        "'additionalProperties' other than false beside 'properties'");
    expect_schema_error("{\"anyOf\":[{\"type\":\"string\",\"pattern\":\"a(?!b)\"}]}",
                        "at #/anyOf/0");
    expect_schema_error("false", "the schema false matches nothing");
}

static char *regex_grammar(const char *re)
{
    char *gbnf;
    grammar_error err;
    if (grammar_from_regex(re, strlen(re), &gbnf, &err))
        fail_msg("regex %s: %s", re, err.msg);
    return gbnf;
}

static void check_regex(const char *re, const sample *samples, size_t n)
{
    char *g = regex_grammar(re);
    for (size_t i = 0; i < n; i++) {
        int got = run(g, samples[i].text);
        if (got != samples[i].want)
            fail_msg("regex %s, text '%s': got %d, want %d", re, samples[i].text, got,
                     samples[i].want);
    }
    free(g);
}

#define CHECK_RE(re, ...)                                                                   \
    do {                                                                                    \
        const sample s_[] = {__VA_ARGS__};                                                  \
        check_regex(re, s_, sizeof s_ / sizeof s_[0]);                                      \
    } while (0)

static void test_regex(void **state)
{
    CHECK_RE("^(ab|c)+d?$", {"abcab", 1}, {"cd", 1}, {"d", -1}, {"abd", 1}, {"a", 0});
    CHECK_RE("[^a-c\\s]\\w{2}\\.", {"dx_.", 1}, {"a12.", -1}, {" 12.", -1}, {"é1_.", 1});
    CHECK_RE("\\d{2,}-[\\d.]{0,2}x*?", {"12-", 1}, {"123-1.", 1}, {"1-", -1}, {"12-...", -1});
    CHECK_RE("(?:yes|no)\\?\\\\", {"yes?\\", 1}, {"no?", 0});
    CHECK_RE(".", {"\n", -1}, {"€", 1});
}

static void expect_regex_error(const char *re, const char *needle)
{
    char *gbnf = NULL;
    grammar_error err = {{0}};
    assert_int_equal(grammar_from_regex(re, strlen(re), &gbnf, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("regex %s: error '%s' lacks '%s'", re, err.msg, needle);
}

static void test_regex_errors(void **state)
{
    expect_regex_error("(a", "expected ')'");
    expect_regex_error("a)", "unmatched ')'");
    expect_regex_error("(a)\\1", "unsupported escape");
    expect_regex_error("\\bword", "unsupported escape");
    expect_regex_error("a(?=b)", "lookarounds");
    expect_regex_error("a^b", "an anchor inside the pattern");
    expect_regex_error("*a", "nothing to repeat");
    expect_regex_error("a{3,1}", "n < m");
    expect_regex_error("a++", "a quantifier after a quantifier");
    expect_regex_error("[abc", "unterminated character class");
}

static void test_json_object_and_choices(void **state)
{
    char *g;
    grammar_error err;
    assert_int_equal(grammar_for_json_object(&g, &err), 0);
    assert_int_equal(run(g, "{\"a\":[1,2.5,\"x\",null,true,{\"b\":{}}]}"), 1);
    assert_int_equal(run(g, "[1]"), -1);
    assert_int_equal(run(g, "{\"a\":1,}"), -1);
    free(g);
    const char *choices[] = {"red", "re\"d", "δ"};
    size_t lens[] = {3, 4, strlen("δ")};
    assert_int_equal(grammar_from_choices(choices, lens, 3, &g, &err), 0);
    assert_int_equal(run(g, "red"), 1);
    assert_int_equal(run(g, "re\"d"), 1);
    assert_int_equal(run(g, "δ"), 1);
    assert_int_equal(run(g, "rex"), -1);
    free(g);
    assert_int_equal(grammar_from_choices(choices, lens, 0, &g, &err), -1);
    assert_non_null(strstr(err.msg, "no choices"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_white_space_is_bounded),
        cmocka_unit_test(test_arrays_enums_consts),
        cmocka_unit_test(test_refs_and_recursion),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_json_object_and_choices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
