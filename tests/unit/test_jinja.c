/* The Jinja interpreter (src/template): expressions, filters, tests, statements and
 * whitespace control against renderings by Jinja2 (trim_blocks, lstrip_blocks, HF's
 * tojson), and failures that name the construct and the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "template/jinja.h"

typedef struct jcase {
    const char *tmpl, *ctx, *want;
} jcase;

/* Template, context (JSON), and Jinja2's rendering. */
static const jcase cases[] = {
    {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}",
     "{}",
     "7 9 3 -4 2 3.5 1024"},
    {"{{ 0.1 + 0.2 }} {{ 1e22 }} {{ 1.0 }} {{ 3 * 1.5 }} {{ 1e-5 }} {{ 123456789.125 }}",
     "{}",
     "0.30000000000000004 1e+22 1.0 4.5 1e-05 123456789.125"},
    {"{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] + [2, 3] }}",
     "{}",
     "a1NoneTrue ababab [1, 2, 3]"},
    {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ 'b' >= 'a' }} {{ 1 == 1.0 }} {{ 1 == true }} {{ 'x' != 'y' }}",
     "{}",
     "True False True True True True"},
    {"{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }}",
     "{\"d\": {\"k\": 1}}",
     "True True True True"},
    {"{{ 'yes' if x else 'no' }} {{ 'yes' if not x else 'no' }} [{{ 'a' if false }}]",
     "{\"x\": 0}",
     "no yes []"},
    {"{{ x or 'dflt' }} {{ x and 'never' }} {{ y and 'both' }}",
     "{\"x\": \"\", \"y\": 1}",
     "dflt  both"},
    {"{{ s[1:3] }} {{ s[::-1] }} {{ s[-2:] }} {{ l[::2] }} {{ l[-1] }} {{ s[0] }} {{ l[:-1] }}",
     "{\"s\": \"héllo\", \"l\": [1, 2, 3, 4, 5]}",
     "él olléh lo [1, 3, 5] 5 h [1, 2, 3, 4]"},
    {"{{ {'a': [1, 'two', none, true, 1.5], 'b': {'c': \"it's\"}} }} {{ (1, 2) }} {{ (1,) }}",
     "{}",
     "{'a': [1, 'two', None, True, 1.5], 'b': {'c': \"it's\"}} (1, 2) (1,)"},
    {"{{ '  hi  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  hi'.lstrip() }}|{{ 'hi  '.rstrip() }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}",
     "{}",
     "hi|hi|hi|hi|HIhi"},
    {"{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'aXbXc'.replace('X', '-') }} {{ 'a-b-c'.rsplit('-', 1) }}",
     "{}",
     "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] a-b-c ['a-b', 'c']"},
    {"{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}",
     "{}",
     "True True True Hello World Hello"},
    {"{{ d.get('a') }} {{ d.get('z', 'none') }} {{ d.get('z') }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys() | list }} {{ d.values() | list }}",
     "{\"d\": {\"a\": 1, \"b\": [2]}}",
     "1 none None a=1;b=[2]; ['a', 'b'] [1, [2]]"},
    {"{{ ' x '|trim }}|{{ 'ab'|upper }}|{{ 'AB'|lower }}|{{ [1, 2]|length }}|{{ 'héllo'|length }}|{{ d|length }}|{{ u|length }}",
     "{\"d\": {\"a\": 1}}",
     "x|AB|ab|2|5|1|0"},
    {"{{ u|default('dflt') }} {{ ''|default('dflt', true) }} {{ 0|default('x') }} {{ [3, 1]|first }} {{ [3, 1]|last }} {{ 'abc'|first }}",
     "{}",
     "dflt dflt 0 3 1 a"},
    {"{{ [1, 'a', none]|join(', ') }} {{ 'abc'|list }} {{ '42'|int + 1 }} {{ '3.7'|int }} {{ 'x'|int }} {{ '2.5'|float }} {{ 5|string ~ '!' }}",
     "{}",
     "1, a, None ['a', 'b', 'c'] 43 3 0 2.5 5!"},
    {"{{ d|tojson }} {{ d|tojson(indent=2) }} {{ 'é\"\\n'|tojson }} {{ [] | tojson }} {{ {} | tojson(indent=4) }}",
     "{\"d\": {\"b\": [1, 2.5, null, true], \"a\": \"x\"}}",
     "{\"b\": [1, 2.5, null, true], \"a\": \"x\"} {\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"a\": \"x\"\n} \"é\\\"\\n\" [] {}"},
    {"{{ d|items|list }} {% for k, v in d|items %}{{ k }}{{ v }}{% endfor %} {{ d|tojson(sort_keys=true) }}",
     "{\"d\": {\"b\": 1, \"a\": 2}}",
     "[('b', 1), ('a', 2)] b1a2 {\"a\": 2, \"b\": 1}"},
    {"{{ ts|selectattr('type', 'equalto', 'x')|list }} {{ ts|rejectattr('type', 'equalto', 'x')|map(attribute='n')|list }} {{ ts|selectattr('n')|list|length }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ ['a', 'b']|reject('equalto', 'a')|list }}",
     "{\"ts\": [{\"type\": \"x\", \"n\": 1}, {\"type\": \"y\", \"n\": 2}, {\"type\": \"x\", \"n\": 0}]}",
     "[{'type': 'x', 'n': 1}, {'type': 'x', 'n': 0}] [2] 2 [1, 3] ['b']"},
    {"{{ ['A', 'a', 'b', 'B']|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ ['x', 'y']|map('upper')|join }} {{ -3|abs }}",
     "{}",
     "['A', 'b'] [2, 1] cba XY 3"},
    {"{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(4, first=true) }}|{{ 'x\\n'|indent }}|{{ 'a\\n\\nb'|indent(1, blank=true) }}",
     "{}",
     "a\n  b\n\n  c|    a\n    b|x\n|a\n \n b"},
    {"{{ 'a-b'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'ab'|replace('', '.') }} {{ 'x y'|title }} {{ 'hi'|capitalize }}",
     "{}",
     "a+b bba .a.b. X Y Hi"},
    {"{{ ('<a>'|safe) + '<b>' }} {{ '<c>' ~ ('<d>'|safe) }} {{ 'q' + ('\"'|safe) }}",
     "{}",
     "<a>&lt;b&gt; <c><d> q\""},
    {"{{ x is defined }} {{ u is undefined }} {{ n is none }} {{ s is string }} {{ d is mapping }} {{ l is iterable }} {{ s is iterable }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }}",
     "{\"x\": 1, \"n\": null, \"s\": \"a\", \"d\": {}, \"l\": []}",
     "True True True True True True True True True True True"},
    {"{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is eq 'a' }} {{ 2 is in [1, 2] }} {{ x is not none }} {{ 'ab' is lower }} {{ 'AB' is upper }}",
     "{\"x\": 1}",
     "True False True True True True True True True True True"},
    {"{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{% if not loop.first %}<{{ loop.previtem }}{% endif %}{% if not loop.last %}>{{ loop.nextitem }}{% endif %};{% endfor %}",
     "{\"l\": [\"a\", \"b\", \"c\"]}",
     "1032TrueFalse3>b;2121FalseFalse3<a>c;3210FalseTrue3<b;"},
    {"{% for x in l if x > 1 %}{{ x }}{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}",
     "{\"l\": [1, 2, 3]}",
     "21/2 32/2 |empty"},
    {"{% for x in l %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "{\"l\": [1, 2, 3, 4, 5]}",
     "13"},
    {"{% set ns = namespace(n=0, s='') %}{% for x in l %}{% set ns.n = ns.n + x %}{% set ns.s = ns.s ~ x %}{% endfor %}{{ ns.n }} {{ ns.s }}",
     "{\"l\": [1, 2, 3]}",
     "6 123"},
    {"{% set x = 1 %}{% for i in [1, 2] %}{% set x = i * 10 %}{{ x }}{% endfor %} {{ x }}",
     "{}",
     "1020 1"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = [1, 2] %}{{ t }} {% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
     "{}",
     "12 [1, 2] 37"},
    {"{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(punct='?', name='Cy') }}",
     "{}",
     "Hello, Ann! Hi, Bob! Hello, Cy?"},
    {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}",
     "{}",
     "120"},
    {"{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %} {% macro m2() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m2(1, 2, k=3) }}",
     "{}",
     "[inside] (1, 2){'k': 3}"},
    {"{% set body %}  Hello {{ name }}  {% endset %}[{{ body }}] {% filter upper %}shout {{ name }}{% endfilter %} {% set t | trim %}  pad  {% endset %}[{{ t }}]",
     "{\"name\": \"Zed\"}",
     "[  Hello Zed  ] SHOUT ZED [pad]"},
    {"{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }} {{ dict(a=1) }} {{ strftime_now('%%') }}",
     "{}",
     "[0, 1, 2] [1, 3, 5] [3, 2, 1] {'a': 1} %"},
    {"<{%- if true -%}  x  {%- endif -%}>",
     "{}",
     "<x>"},
    {"a\n  {% if true %}\n  b\n  {% endif %}\nc",
     "{}",
     "a\n  b\nc"},
    {"a  {{- ' b ' -}}  c\n{{ 'd' }}\n{# comment #}\ne {#- x -#} f\n",
     "{}",
     "a b c\nd\nef"},
    {"  {%+ if true %}kept{% endif %}\n{% if true +%}\nx{% endif %}",
     "{}",
     "  kept\nx"},
    {"{% for m in ms %}\n  {{ m }}\n{% endfor %}\nend\n",
     "{\"ms\": [1, 2]}",
     "  1\n  2\nend"},
    {"line\r\nnext{{ '\\r' }}\r\n",
     "{}",
     "line\nnext\r"},
    {"[{{ u }}] [{{ d.missing }}] [{{ d['missing'] }}] [{{ l[9] }}] [{{ none.x }}] {% for x in u %}x{% endfor %} {{ u|length }} {{ u is defined }} {{ d.missing is defined }}",
     "{\"d\": {}, \"l\": []}",
     "[] [] [] [] []  0 False False"},
};

/* Renders tmpl with ctx (JSON text): the malloc'd text, or NULL with err set. */
static char *render(const char *tmpl, const char *ctx, const jinja_limits *lim, jinja_error *err)
{
    jinja_template *t = jinja_parse(tmpl, strlen(tmpl), err);
    if (!t)
        return NULL;
    json_error_t jerr;
    json_t *c = json_loads(ctx, 0, &jerr);
    assert_non_null(c);
    char *out = NULL;
    size_t len;
    int rc = jinja_render(t, c, lim, time(NULL), &out, &len, err);
    json_decref(c);
    jinja_free(t);
    if (rc)
        return NULL;
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_against_jinja2(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jinja_error err;
        char *got = render(cases[i].tmpl, cases[i].ctx, NULL, &err);
        if (!got)
            fail_msg("case %zu (%s): %s", i, cases[i].tmpl, err.msg);
        if (strcmp(got, cases[i].want))
            fail_msg("case %zu (%s):\n got  [%s]\n want [%s]", i, cases[i].tmpl, got, cases[i].want);
        free(got);
    }
}

/* The failure of tmpl: its message must contain want (and the line). */
static void expect_error(const char *tmpl, const char *ctx, const jinja_limits *lim, int line, const char *want)
{
    jinja_error err;
    char *got = render(tmpl, ctx, lim, &err);
    if (got)
        fail_msg("'%s' rendered '%s', expected the error '%s'", tmpl, got, want);
    if (!strstr(err.msg, want))
        fail_msg("'%s': error '%s' does not say '%s'", tmpl, err.msg, want);
    assert_int_equal(err.line, line);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "line %d: ", line);
    assert_true(strncmp(err.msg, prefix, strlen(prefix)) == 0);
}

typedef struct jerror_case {
    const char *tmpl, *ctx;
    int line;
    const char *want; /* in the message */
} jerror_case;

/* Failures: constructs outside the subset (refused by the parser), malformed templates,
 * and failures while rendering where Jinja2 fails too. */
static const jerror_case errors[] = {
    {"a\n{{ x | wordwrap }}", "{}", 2, "unsupported filter 'wordwrap'"},
    {"{% include 'other.jinja' %}", "{}", 1, "unsupported statement 'include'"},
    {"\n\n{% if x is prime %}{% endif %}", "{}", 3, "unsupported test 'prime'"},
    {"{% for x in l recursive %}{% endfor %}", "{}", 1, "recursive for loop"},
    {"{{ f(*args) }}", "{}", 1, "*args"},
    {"{{ '%d' % 3 }}", "{}", 1, "string formatting"},
    {"{{ 'a'.format(1) }}", "{}", 1, "unsupported string method 'format'"},
    {"{% set _ = l.append(1) %}", "{\"l\": []}", 1, "unsupported list method 'append'"},
    {"{{ d.update({}) }}", "{\"d\": {}}", 1, "unsupported dict method 'update'"},
    {"{{ x | tojson(separators=(',', ':')) }}", "{}", 1, "separators"},
    {"{% if x %}never closed", "{}", 1, "missing '{% endif %}'"},
    {"{{ x ", "{}", 1, "missing '}}'"},
    {"ok\n{% endfor %}", "{}", 2, "unexpected '{% endfor %}'"},
    {"{{ 'unterminated }}", "{}", 1, "unterminated string"},
    {"{# no end", "{}", 1, "unterminated comment"},
    {"{% break %}", "{}", 1, "'break' outside a for loop"},
    {"{{ 1 + }}", "{}", 1, "expected an expression"},
    {"{{ a b }}", "{}", 1, "expected '}}'"},
    {"{{ '\\x4' }}", "{}", 1, "malformed \\x escape"},
    {"{{ 99999999999999999999 }}", "{}", 1, "out of range"},
    {"{{ raise_exception('roles must alternate') }}", "{}", 1, "template raised an exception: roles must alternate"},
    {"\n{{ u.attr }}", "{}", 2, "'u' is undefined"},
    {"{{ d.a.b }}", "{\"d\": {}}", 1, "'dict object' has no attribute 'a'"},
    {"{{ 'a' + 1 }}", "{}", 1, "unsupported operand types for +: 'str' and 'int'"},
    {"{{ 1 // 0 }}", "{}", 1, "division by zero"},
    {"{{ 1 < 'a' }}", "{}", 1, "'<' not supported"},
    {"{{ u + 1 }}", "{}", 1, "'u' is undefined"},
    {"{{ l | map(attribute='a') | tojson }}", "{\"l\": []}", 1, "not JSON serializable"},
    {"{{ l | select | length }}", "{\"l\": []}", 1, "generator has no length"},
    {"{{ x | tojson }}", "{}", 1, "not JSON serializable"},
    {"{% set x.a = 1 %}", "{\"x\": {}}", 1, "not a namespace()"},
    {"{% for a, b in [[1, 2, 3]] %}{% endfor %}", "{}", 1, "cannot unpack 3 values"},
    {"{{ 9223372036854775807 + 1 }}", "{}", 1, "integer overflow"},
    {"{{ none | length }}", "{}", 1, "has no length"},
    {"{{ 'a'[::0] }}", "{}", 1, "slice step cannot be zero"},
    {"{% macro f(a) %}{{ a }}{% endmacro %}\n{{ f(1, 2) }}", "{}", 2, "macro 'f' takes not more than 1 argument(s)"},
    {"{% macro f(a) %}{{ a }}{% endmacro %}{{ f(1, b=2) }}", "{}", 1, "macro 'f' takes no keyword argument 'b'"},
    {"{% macro f() %}x{% endmacro %}{% call f() %}y{% endcall %}", "{}", 1, "does not use caller()"},
    {"{{ 0.0 ** -1 }}", "{}", 1, "0.0 cannot be raised to a negative power"},
    {"{{ 1 * 02 }}", "{}", 1, "leading zeros"},
    {"{{ 1 +}}", "{}", 1, "expected an expression"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        expect_error(errors[i].tmpl, errors[i].ctx, NULL, errors[i].line, errors[i].want);
}

static void test_limits(void **state)
{
    (void)state;
    jinja_limits lim = jinja_default_limits();
    lim.max_output = 1000;
    expect_error("{% for i in range(100) %}0123456789abcdef{% endfor %}", "{}", &lim, 1, "larger than 1000 bytes");
    expect_error("{{ 'x' * 5000 }}", "{}", &lim, 1, "larger than 1000 bytes");
    lim = jinja_default_limits();
    lim.max_steps = 10000;
    expect_error("{% for i in range(3000) %}{{ i + i + i + i }}{% endfor %}", "{}", &lim, 1, "evaluation steps");
    lim = jinja_default_limits();
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "{}", &lim, 1,
                 "macro calls nested deeper than 64");
    lim.max_memory = 1 << 20;
    expect_error("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                 "{}", &lim, 1, "bytes of memory");

    /* nesting beyond the parser's bound is refused, not a stack overflow */
    size_t depth = 5000;
    char *deep = malloc(depth * 2 + 16);
    assert_non_null(deep);
    char *p = deep + sprintf(deep, "{{ ");
    for (size_t i = 0; i < depth; i++)
        *p++ = '(';
    *p++ = '1';
    for (size_t i = 0; i < depth; i++)
        *p++ = ')';
    strcpy(p, " }}");
    expect_error(deep, "{}", NULL, 1, "nested deeper than");
    free(deep);
}

static void test_context_values(void **state)
{
    (void)state;
    /* the JSON context: unicode, numbers, nested values, and member order kept */
    jinja_error err;
    char *got = render("{{ m.content }}|{{ m.n * 2 }}|{{ m.f }}|{{ m.tool_calls[0].function.arguments|tojson }}|{% for k in m %}{{ k }},{% endfor %}",
                       "{\"m\": {\"content\": \"d\\u00e9j\\u00e0 \\ud83d\\ude00\", \"n\": 21, \"f\": 0.5, "
                       "\"tool_calls\": [{\"function\": {\"arguments\": {\"z\": 1, \"a\": \"\\u00e9\"}}}]}}",
                       NULL, &err);
    assert_non_null(got);
    assert_string_equal(got, "déjà 😀|42|0.5|{\"z\": 1, \"a\": \"é\"}|content,n,f,tool_calls,");
    free(got);
    /* a NULL context renders like an empty one */
    jinja_template *t = jinja_parse("[{{ messages }}]", 16, &err);
    assert_non_null(t);
    char *out;
    size_t len;
    assert_int_equal(jinja_render(t, NULL, NULL, 0, &out, &len, &err), 0);
    assert_string_equal(out, "[]");
    free(out);
    json_t *arr = json_array();
    assert_int_equal(jinja_render(t, arr, NULL, 0, &out, &len, &err), -1);
    assert_non_null(strstr(err.msg, "not a JSON object"));
    json_decref(arr);
    jinja_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_jinja2),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_context_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
