/* Request parsing and validation of the OpenAI endpoints: good bodies give the expected
 * fields, bad ones the right status and the name of the offending field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_error.h"
#include "server/auth.h"
#include "server/openai_request.h"
#include "testutil.h"

/* Room for 256 tokens of at most 4 bytes each: 1024 bytes of prompt text. */
static const oai_limits lim = {"tiny", 1000, 256, 1024, TOOL_HERMES};

typedef struct bad_case {
    oai_kind kind;
    const char *body;
    unsigned status;
    const char *param;
} bad_case;

static const bad_case bad[] = {
    {OAI_COMPLETION, "{", 400, ""},
    {OAI_COMPLETION, "[1,2]", 400, ""},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"prompt\":\"b\"}", 400, ""},
    {OAI_COMPLETION, "{}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":5}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":[]}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":[1,\"x\"]}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":[1,1000]}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":[-1]}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"model\":\"other\"}", 404, "model"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"model\":7}", 400, "model"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":\"9\"}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":0}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":257}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":1.5}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"temperature\":\"hot\"}", 400, "temperature"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"temperature\":-1}", 400, "temperature"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"top_p\":0}", 400, "top_p"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"top_p\":1.5}", 400, "top_p"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"top_k\":-2}", 400, "top_k"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"min_p\":2}", 400, "min_p"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"seed\":\"x\"}", 400, "seed"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"n\":0}", 400, "n"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"n\":1000}", 400, "n"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stop\":5}", 400, "stop"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stop\":[\"x\",1]}", 400, "stop"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stream\":\"yes\"}", 400, "stream"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stream_options\":{\"include_usage\":true}}", 400, "stream_options"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":{\"include_usage\":1}}", 400, "stream_options.include_usage"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logprobs\":true}", 400, "logprobs"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logprobs\":21}", 400, "logprobs"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"presence_penalty\":3}", 400, "presence_penalty"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"frequency_penalty\":null,\"repetition_penalty\":0}", 400, "repetition_penalty"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logit_bias\":[1]}", 400, "logit_bias"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logit_bias\":{\"x\":1}}", 400, "logit_bias"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logit_bias\":{\"5000\":1}}", 400, "logit_bias"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"logit_bias\":{\"5\":101}}", 400, "logit_bias"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"cache_salt\":\"\"}", 400, "cache_salt"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"echo\":1}", 400, "echo"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":0}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"n\":3,\"best_of\":2}", 400, "best_of"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"best_of\":2,\"stream\":true}", 400, "best_of"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"best_of\":65}", 400, "best_of"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", 400, "max_tokens"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"stop_token_ids\":[1,\"2\"]}", 400, "stop_token_ids"},
    {OAI_CHAT, "{}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":[]}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":\"hi\"}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":[{\"content\":\"hi\"}]}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400, "messages"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":-4}", 400, "max_completion_tokens"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":1}", 400, "logprobs"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}", 400, "top_logprobs"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":\"gpt-4\"}", 404, "model"},
    /* Constraints kvspill cannot enforce are refused, never ignored; so are tool calls. */
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{}}}", 400, "response_format"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":\"json\"}", 400, "response_format"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"integer\",\"minimum\":0}}}}", 400, "response_format.json_schema.schema"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"response_format\":{\"type\":\"xml\"}}", 400, "response_format"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{}}]}", 400, "tools"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]}", 400, "tools"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}", 400, "tool_choice"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"any\"}", 400, "tool_choice"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\",\"guided_regex\":\"a\"}", 400, "tool_choice"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"parallel_tool_calls\":1}", 400, "parallel_tool_calls"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":{}}", 400, "tools"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"required\"}", 400, "tool_choice"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"functions\":[{\"name\":\"f\"}]}", 400, "functions"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"guided_json\":{\"type\":\"string\",\"format\":\"email\"}}", 400, "guided_json"},
    {OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"guided_json\":\"{not json\"}", 400, "guided_json"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"guided_choice\":[]}", 400, "guided_choice"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"guided_regex\":\"(a\"}", 400, "guided_regex"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"guided_grammar\":\"root ::= x\"}", 400, "guided_grammar"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"guided_regex\":\"a\",\"guided_choice\":[\"a\"]}", 400, "guided_choice"},
    {OAI_COMPLETION, "{\"prompt\":\"a\",\"structured_outputs\":{}}", 400, "structured_outputs"},
};

static void test_bad_bodies(void **state)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oai_request r;
        api_error err = {0};
        int rc = oai_request_parse(bad[i].kind, bad[i].body, strlen(bad[i].body), &lim, &r, &err);
        oai_request_free(&r);
        if (rc != -1 || err.status != bad[i].status || strcmp(err.param, bad[i].param) != 0)
            fail_msg("case %zu %s: rc %d status %u param '%s' (%s)", i, bad[i].body, rc,
                     err.status, err.param, err.message);
        assert_true(err.message[0] != 0);
        char *json = api_error_json(&err, NULL);
        assert_non_null(json);
        assert_non_null(strstr(json, "{\"error\":{\"message\":"));
        free(json);
    }
}

static oai_request parse_ok(oai_kind kind, const char *body)
{
    oai_request r;
    api_error err = {0};
    if (oai_request_parse(kind, body, strlen(body), &lim, &r, &err) != 0)
        fail_msg("%s: %s", body, err.message);
    return r;
}

static void test_completion_fields(void **state)
{
    oai_request r = parse_ok(OAI_COMPLETION,
        "{\"model\":\"tiny\",\"prompt\":[\"Hello\"],\"max_tokens\":7,\"temperature\":0.5,"
        "\"top_p\":0.9,\"top_k\":-1,\"min_p\":0.1,\"seed\":42,\"n\":3,\"stop\":\"\\n\","
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logprobs\":2,"
        "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,\"repetition_penalty\":1.1,"
        "\"logit_bias\":{\"5\":-100,\"7\":2.5},\"cache_salt\":\"tenant\",\"user\":\"u\","
        "\"some_future_field\":{\"x\":[1]}}");
    assert_false(r.prompt_is_tokens);
    assert_string_equal(r.prompt_text, "Hello");
    assert_true(r.max_tokens_set);
    assert_int_equal(r.max_tokens, 7);
    assert_true(r.sampling.temperature == 0.5f && r.sampling.top_p == 0.9f);
    assert_int_equal(r.sampling.top_k, 0);
    assert_true(r.seed_set);
    assert_int_equal(r.sampling.seed, 42);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.best_of, 3); /* best_of defaults to n */
    assert_int_equal(r.n_stop, 1);
    assert_string_equal(r.stop[0], "\n");
    assert_true(r.stream && r.include_usage && r.logprobs);
    assert_int_equal(r.top_logprobs, 2);
    assert_int_equal(r.sampling.n_bias, 2);
    assert_true(r.sampling.repetition_penalty > 1.09f);
    assert_string_equal(r.cache_salt, "tenant");
    oai_request_free(&r);

    r = parse_ok(OAI_COMPLETION, "{\"prompt\":\"a\",\"echo\":true,\"max_tokens\":0,"
                                 "\"logprobs\":0,\"n\":2,\"best_of\":4}");
    assert_true(r.echo && r.logprobs && r.max_tokens_set);
    assert_int_equal(r.max_tokens, 0);
    assert_int_equal(r.top_logprobs, 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.best_of, 4);
    oai_request_free(&r);

    r = parse_ok(OAI_COMPLETION, "{\"prompt\":[[1,2,3]],\"stop\":[\"a\",\"\",\"bc\"],"
                                 "\"stop_token_ids\":[9]}");
    assert_true(r.prompt_is_tokens);
    assert_int_equal(r.n_prompt_tokens, 3);
    assert_int_equal(r.prompt_tokens[2], 3);
    assert_int_equal(r.n_stop, 2); /* the empty stop string is dropped */
    assert_int_equal(r.sampling.n_stop, 1);
    assert_int_equal(r.sampling.stop_tokens[0], 9);
    assert_false(r.max_tokens_set);
    assert_false(r.seed_set);
    oai_request_free(&r);
}

/* What asks for no constraint is served: plain text, no tools. */
static void test_unconstrained_accepted(void **state)
{
    (void)state;
    oai_request r = parse_ok(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                                       "\"response_format\":{\"type\":\"text\"},\"tools\":[],"
                                       "\"tool_choice\":\"none\",\"parallel_tool_calls\":false}");
    oai_request_free(&r);
    r = parse_ok(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                           "\"response_format\":null,\"tools\":null,\"tool_choice\":\"auto\"}");
    oai_request_free(&r);
}

/* Tools are kept for the template with the messages; a forced choice gets a grammar of
 * the tool's call, auto none. */
static void test_tools_accepted(void **state)
{
    (void)state;
    const char *tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
                        "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}}}]";
    const char *msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                       "\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
                       "{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}}]},{\"role\":\"tool\","
                       "\"tool_call_id\":\"c1\",\"content\":\"2\"}]";
    static const char *const choices[] = {"\"auto\"", "\"required\"",
                                          "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}",
                                          "\"none\""};
    static const oai_tool_choice want[] = {OAI_TOOLS_AUTO, OAI_TOOLS_REQUIRED, OAI_TOOLS_NAMED,
                                           OAI_TOOLS_NONE};
    for (size_t i = 0; i < 4; i++) {
        char body[1024];
        snprintf(body, sizeof body, "{%s,%s,\"tool_choice\":%s}", msgs, tools, choices[i]);
        oai_request r = parse_ok(OAI_CHAT, body);
        assert_int_equal(r.tools.choice, want[i]);
        assert_int_equal(json_array_size(r.tools.tools), 1);
        /* the template sees the call's arguments as an object */
        json_t *args = json_object_get(json_object_get(json_array_get(json_object_get(
            json_array_get(r.tools.messages, 1), "tool_calls"), 0), "function"), "arguments");
        assert_true(json_is_object(args));
        if (want[i] == OAI_TOOLS_REQUIRED || want[i] == OAI_TOOLS_NAMED) {
            assert_non_null(r.grammar);
            assert_non_null(strstr(r.grammar, "<tool_call>"));
        } else
            assert_null(r.grammar);
        oai_request_free(&r);
    }
}

/* Each structured-output field gives the request a grammar; plain text gives none. */
static void test_structured_outputs(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "\"response_format\":{\"type\":\"json_object\"}",
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}},\"strict\":true}}",
        "\"guided_json\":{\"enum\":[1,2]}",
        "\"guided_json\":\"{\\\"type\\\":\\\"boolean\\\"}\"",
        "\"guided_regex\":\"[a-z]+\"",
        "\"guided_choice\":[\"yes\",\"no\"]",
        "\"guided_grammar\":\"root ::= \\\"x\\\"+\"",
        "\"structured_outputs\":{\"regex\":\"a|b\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"prompt\":\"a\",%s}", bodies[i]);
        oai_request r = parse_ok(OAI_COMPLETION, body);
        if (!r.grammar || !strstr(r.grammar, "root ::="))
            fail_msg("%s: no grammar", body);
        oai_request_free(&r);
    }
    oai_request r = parse_ok(OAI_COMPLETION, "{\"prompt\":\"a\",\"response_format\":{\"type\":\"text\"}}");
    assert_null(r.grammar);
    oai_request_free(&r);
}

static void test_chat_fields(void **state)
{
    oai_request r = parse_ok(OAI_CHAT,
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"assistant\",\"content\":null}],\"max_completion_tokens\":5,\"max_tokens\":9,"
        "\"logprobs\":true,\"top_logprobs\":1}");
    assert_int_equal(r.n_messages, 3);
    assert_string_equal(r.messages[0].role, "system");
    assert_string_equal(r.messages[1].content, "a\nb");
    assert_string_equal(r.messages[2].content, "");
    assert_int_equal(r.max_tokens, 5); /* max_completion_tokens wins */
    assert_true(r.logprobs);
    oai_request_free(&r);
}

static void test_lengths(void **state)
{
    api_error err;
    oai_request r = parse_ok(OAI_COMPLETION, "{\"prompt\":\"a\"}");
    assert_int_equal(oai_check_lengths(&r, 10, 256, &err), 0);
    assert_int_equal(r.max_tokens, 16); /* completions default */
    assert_int_equal(r.sampling.max_tokens, 16);
    assert_int_equal(oai_check_lengths(&r, 256, 256, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.param, "prompt");
    assert_string_equal(err.code, "context_length_exceeded");
    assert_int_equal(oai_check_lengths(&r, 0, 256, &err), -1);
    oai_request_free(&r);

    r = parse_ok(OAI_COMPLETION, "{\"prompt\":\"a\",\"max_tokens\":200}");
    assert_int_equal(oai_check_lengths(&r, 56, 256, &err), 0);
    assert_int_equal(oai_check_lengths(&r, 57, 256, &err), -1);
    assert_string_equal(err.param, "max_tokens");
    oai_request_free(&r);

    r = parse_ok(OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(oai_check_lengths(&r, 56, 256, &err), 0);
    assert_int_equal(r.max_tokens, 200); /* chat default: the room left */
    oai_request_free(&r);
}

/* A body of a repeated item: prefix, count copies of item separated by sep, suffix. */
static char *repeat_body(const char *prefix, const char *item, const char *sep, size_t count,
                         const char *suffix)
{
    size_t len = strlen(prefix) + count * (strlen(item) + strlen(sep)) + strlen(suffix) + 1;
    char *b = malloc(len);
    assert_non_null(b);
    strcpy(b, prefix);
    for (size_t i = 0; i < count; i++) {
        strcat(b, item);
        if (i + 1 < count)
            strcat(b, sep);
    }
    strcat(b, suffix);
    return b;
}

static void expect_rejected(oai_kind kind, char *body, const char *param, const char *code)
{
    oai_request r;
    api_error err = {0};
    int rc = oai_request_parse(kind, body, strlen(body), &lim, &r, &err);
    oai_request_free(&r);
    if (rc != -1 || err.status != 400 || strcmp(err.param, param) || strcmp(err.code, code))
        fail_msg("%.80s...: rc %d status %u param '%s' code '%s' (%s)", body, rc, err.status,
                 err.param, err.code, err.message);
    free(body);
}

static void expect_accepted(oai_kind kind, char *body)
{
    oai_request r = parse_ok(kind, body);
    oai_request_free(&r);
    free(body);
}

/* Limits a client cannot get past: prompt text longer than the context can hold, more
 * messages than tokens of context, n and max_tokens out of range. */
static void test_limits(void **state)
{
    assert_int_equal(oai_max_prompt_bytes(256, 4), 1024);
    assert_int_equal(oai_max_prompt_bytes(256, 0), 256);
    expect_accepted(OAI_COMPLETION, repeat_body("{\"prompt\":\"", "a", "", 1024, "\"}"));
    expect_rejected(OAI_COMPLETION, repeat_body("{\"prompt\":\"", "a", "", 1025, "\"}"),
                    "prompt", "context_length_exceeded");
    expect_rejected(OAI_COMPLETION, repeat_body("{\"prompt\":[\"", "a", "", 5000, "\"]}"),
                    "prompt", "context_length_exceeded");
    /* 256 messages fit (a token each); 257 cannot. */
    const char *msg = "{\"role\":\"user\",\"content\":\"x\"}";
    expect_accepted(OAI_CHAT, repeat_body("{\"messages\":[", msg, ",", 256, "]}"));
    expect_rejected(OAI_CHAT, repeat_body("{\"messages\":[", msg, ",", 257, "]}"), "messages",
                    "context_length_exceeded");
    /* Contents summed over messages and parts: 3 × 400 bytes is over 1024. */
    char *big = repeat_body("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"", "b",
                            "", 400, "\"}]}");
    expect_rejected(OAI_CHAT, repeat_body("{\"messages\":[", big, ",", 3, "]}"), "messages",
                    "context_length_exceeded");
    expect_accepted(OAI_CHAT, repeat_body("{\"messages\":[", big, ",", 2, "]}"));
    free(big);
    char body[96];
    snprintf(body, sizeof body, "{\"prompt\":\"a\",\"n\":%d}", OAI_MAX_N);
    expect_accepted(OAI_COMPLETION, strdup(body));
    snprintf(body, sizeof body, "{\"prompt\":\"a\",\"n\":%d}", OAI_MAX_N + 1);
    expect_rejected(OAI_COMPLETION, strdup(body), "n", "");
    expect_rejected(OAI_COMPLETION, strdup("{\"prompt\":\"a\",\"max_tokens\":1e9}"),
                    "max_tokens", "");
    expect_rejected(OAI_COMPLETION,
                    strdup("{\"prompt\":\"a\",\"max_tokens\":9223372036854775807}"),
                    "max_tokens", "");
}

static void test_auth(void **state)
{
    assert_true(auth_bearer_ok("sekret", "Bearer sekret"));
    assert_true(auth_bearer_ok("sekret", "bearer sekret"));
    assert_false(auth_bearer_ok("sekret", NULL));
    assert_false(auth_bearer_ok("sekret", "Bearer sekre"));
    assert_false(auth_bearer_ok("sekret", "Bearer sekrets"));
    assert_false(auth_bearer_ok("sekret", "Bearer sekreT"));
    assert_false(auth_bearer_ok("sekret", "Basic sekret"));
    assert_false(auth_bearer_ok("sekret", "sekret"));
    assert_false(auth_bearer_ok("sekret", "Bearer "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_completion_fields),
        cmocka_unit_test(test_chat_fields),
        cmocka_unit_test(test_structured_outputs),
        cmocka_unit_test(test_tools_accepted),
        cmocka_unit_test(test_unconstrained_accepted),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
