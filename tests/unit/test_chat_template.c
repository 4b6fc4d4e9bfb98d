/* Chat template detection and rendering for each family, with system messages and
 * several turns; loading a GGUF template for the Jinja interpreter (agreement with the
 * family formatter, BOS handling, refusal of unsupported constructs, --chat-template). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/chat_template.h"
#include "testutil.h"

static const chat_message conv[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "  Hi there  "},
    {"user", "Who are you"},
};

static void expect_render(const char *tmpl, chat_family fam, bool gen, const char *want)
{
    chat_template t = chat_template_detect(tmpl, tmpl ? strlen(tmpl) : 0);
    assert_int_equal(t.family, fam);
    tok_bytes out = {0};
    model_error err;
    assert_int_equal(chat_template_render(&t, conv, 4, gen, &out, &err), 0);
    assert_string_equal(out.p, want);
    tok_bytes_free(&out);
}

static void test_chatml(void **state)
{
    const char *qwen = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                       "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    expect_render(qwen, CHAT_CHATML, true,
                  "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                  "<|im_start|>user\nHello<|im_end|>\n"
                  "<|im_start|>assistant\n  Hi there  <|im_end|>\n"
                  "<|im_start|>user\nWho are you<|im_end|>\n"
                  "<|im_start|>assistant\n");
    assert_true(chat_template_detect(qwen, strlen(qwen)).known);
}

static void test_fallback_is_chatml(void **state)
{
    chat_template t = chat_template_detect(NULL, 0);
    assert_false(t.known);
    assert_int_equal(t.family, CHAT_CHATML);
    t = chat_template_detect("{{ messages }}", 14);
    assert_false(t.known);
    expect_render(NULL, CHAT_CHATML, false,
                  "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                  "<|im_start|>user\nHello<|im_end|>\n"
                  "<|im_start|>assistant\n  Hi there  <|im_end|>\n"
                  "<|im_start|>user\nWho are you<|im_end|>\n");
}

static void test_llama3(void **state)
{
    const char *tmpl = "{% set content = '<|start_header_id|>' + message['role'] + "
                       "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}";
    expect_render(tmpl, CHAT_LLAMA3, true,
                  "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void test_llama2(void **state)
{
    const char *tmpl = "{% if messages[0]['role'] == 'system' %}<<SYS>>\\n' + system_message + "
                       "'\\n<</SYS>>\\n\\n{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}";
    expect_render(tmpl, CHAT_LLAMA2, true,
                  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>"
                  "<s>[INST] Who are you [/INST]");
    /* Mistral-style: no <<SYS>>, no BOS between turns, contents kept as they are */
    expect_render("{{ '[INST] ' + message['content'] + ' [/INST]' }}", CHAT_LLAMA2, true,
                  "[INST] You are a helpful assistant\nHello [/INST]  Hi there  </s>"
                  "[INST] Who are you [/INST]");
}

static void test_phi3(void **state)
{
    const char *tmpl = "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>'}}";
    expect_render(tmpl, CHAT_PHI3, true,
                  "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
                  "<|assistant|>\n  Hi there  <|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n");
    assert_string_equal(chat_family_name(CHAT_PHI3), "phi3");
}

/* The template `kvspill model gen` writes (vocab_gen.c), interpreted, renders as the
 * ChatML formatter does, with and without the generation prompt. */
static void test_jinja_agrees_with_chatml(void **state)
{
    const char *gen = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                      "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    chat_template t, fallback;
    model_error err;
    assert_int_equal(chat_template_load(&t, gen, strlen(gen), "<s>", "</s>", true, &err), 0);
    assert_int_equal(chat_template_load(&fallback, NULL, 0, "<s>", "</s>", true, &err), 0);
    assert_non_null(t.jinja);
    assert_null(fallback.jinja);
    assert_int_equal(t.source, CHAT_SOURCE_GGUF);
    assert_int_equal(fallback.source, CHAT_SOURCE_FALLBACK);
    assert_string_equal(chat_source_name(t.source), "gguf");
    for (int g = 0; g < 2; g++) {
        tok_bytes a = {0}, b = {0};
        assert_int_equal(chat_template_render(&t, conv, 4, g, &a, &err), 0);
        assert_int_equal(chat_template_render(&fallback, conv, 4, g, &b, &err), 0);
        assert_string_equal(a.p, b.p);
        tok_bytes_free(&a);
        tok_bytes_free(&b);
    }
    chat_template_free(&t);
    chat_template_free(&fallback);
}

static void expect_jinja(const char *tmpl, bool strip_bos, const char *want)
{
    chat_template t;
    model_error err;
    assert_int_equal(chat_template_load(&t, tmpl, strlen(tmpl), "<s>", "</s>", strip_bos, &err), 0);
    tok_bytes out = {0};
    assert_int_equal(chat_template_render(&t, conv, 2, true, &out, &err), 0);
    assert_string_equal(out.p, want);
    tok_bytes_free(&out);
    chat_template_free(&t);
}

/* The tokenizer adds BOS: a rendering that starts with bos_token loses it. */
static void test_jinja_bos(void **state)
{
    const char *tmpl = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}";
    expect_jinja(tmpl, true, "[system]You are a helpful assistant[user]Hello</s>");
    expect_jinja(tmpl, false, "<s>[system]You are a helpful assistant[user]Hello</s>");
}

static void test_jinja_refused(void **state)
{
    chat_template t;
    model_error err;
    const char *bad = "{% for m in messages %}\n{{ m.content | wordwrap(40) }}{% endfor %}";
    assert_int_equal(chat_template_load(&t, bad, strlen(bad), NULL, NULL, false, &err), -1);
    assert_non_null(strstr(err.msg, "line 2: unsupported filter 'wordwrap'"));
    /* a template that raises while rendering is a render error with its message */
    const char *raises = "{{ raise_exception('System role not supported') }}";
    assert_int_equal(chat_template_load(&t, raises, strlen(raises), NULL, NULL, false, &err), 0);
    tok_bytes out = {0};
    assert_int_equal(chat_template_render(&t, conv, 4, true, &out, &err), -1);
    assert_non_null(strstr(err.msg, "System role not supported"));
    tok_bytes_free(&out);
    chat_template_free(&t);
}

static void test_override(void **state)
{
    chat_template t;
    model_error err;
    const char *gguf = "{{ messages | length }}";
    assert_int_equal(chat_template_load(&t, gguf, strlen(gguf), "<s>", "</s>", true, &err), 0);
    assert_int_equal(chat_template_override(&t, "llama3", &err), 0);
    assert_null(t.jinja);
    assert_int_equal(t.family, CHAT_LLAMA3);
    assert_int_equal(t.source, CHAT_SOURCE_FLAG);
    assert_int_equal(chat_template_override(&t, "/nonexistent/template.jinja", &err), -1);
    assert_non_null(strstr(err.msg, "not a family"));
    char path[] = "/tmp/kvspill-chat-template-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *file = "{{ messages[-1].content }}|{{ tools | length }}|{{ messages[-1].tool_calls[0].function.name }}";
    assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);
    assert_int_equal(chat_template_override(&t, path, &err), 0);
    unlink(path);
    assert_non_null(t.jinja);
    json_t *msgs = json_loads("[{\"role\": \"assistant\", \"content\": \"ok\", \"tool_calls\": "
                              "[{\"function\": {\"name\": \"f\", \"arguments\": {}}}]}]", 0, NULL);
    json_t *tools = json_loads("[{\"type\": \"function\"}, {\"type\": \"function\"}]", 0, NULL);
    tok_bytes out = {0};
    assert_int_equal(chat_template_render_json(&t, msgs, tools, NULL, false, &out, &err), 0);
    assert_string_equal(out.p, "ok|2|f");
    tok_bytes_free(&out);
    /* a family formatter takes the text parts of a list content */
    assert_int_equal(chat_template_override(&t, "chatml", &err), 0);
    json_t *parts = json_loads("[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}, "
                               "{\"type\": \"text\", \"text\": \"b\"}]}]", 0, NULL);
    assert_int_equal(chat_template_render_json(&t, parts, NULL, NULL, true, &out, &err), 0);
    assert_string_equal(out.p, "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n");
    tok_bytes_free(&out);
    json_decref(msgs);
    json_decref(tools);
    json_decref(parts);
    chat_template_free(&t);
}

/* A request with tools renders with the tool_use variant, one without with the default. */
static void test_tool_use_variant(void **state)
{
    chat_template t;
    model_error err;
    const char *dflt = "default:{{ messages | length }}", *tools_t = "tool_use:{{ tools | length }}";
    assert_int_equal(chat_template_load(&t, dflt, strlen(dflt), NULL, NULL, false, &err), 0);
    assert_int_equal(chat_template_add_tool_use(&t, tools_t, strlen(tools_t), &err), 0);
    json_t *msgs = json_loads("[{\"role\": \"user\", \"content\": \"hi\"}]", 0, NULL);
    json_t *tools = json_loads("[{\"type\": \"function\"}]", 0, NULL), *none = json_array();
    tok_bytes out = {0};
    assert_int_equal(chat_template_render_json(&t, msgs, tools, NULL, true, &out, &err), 0);
    assert_string_equal(out.p, "tool_use:1");
    tok_bytes_free(&out);
    assert_int_equal(chat_template_render_json(&t, msgs, none, NULL, true, &out, &err), 0);
    assert_string_equal(out.p, "default:1");
    tok_bytes_free(&out);
    const char *bad = "{% raw %}";
    assert_int_equal(chat_template_add_tool_use(&t, bad, strlen(bad), &err), -1);
    assert_non_null(strstr(err.msg, "tool_use cannot be used: line 1: unsupported statement 'raw'"));
    json_decref(msgs);
    json_decref(tools);
    json_decref(none);
    chat_template_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatml),
        cmocka_unit_test(test_fallback_is_chatml),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_jinja_agrees_with_chatml),
        cmocka_unit_test(test_jinja_bos),
        cmocka_unit_test(test_jinja_refused),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_tool_use_variant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
