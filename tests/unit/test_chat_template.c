/* Chat template detection and rendering for each family, with system messages and
 * several turns. */
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatml),
        cmocka_unit_test(test_fallback_is_chatml),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_phi3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
