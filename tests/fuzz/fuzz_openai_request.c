/* Fuzzes the OpenAI request path as the server runs it, without a model: parse and
 * validate the body for both endpoint kinds, render a chat's messages with every chat
 * template family (as server_prompt_tokens does before tokenizing), check the lengths with
 * the rendered bytes standing in for tokens, and build the error body of every rejection.
 * Tools, tool_choice and tool turns go through tool_calls.c and the forced call's grammar
 * in each reply format.
 * Nothing a client sends may crash it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/chat_template.h"
#include "server/api_error.h"
#include "server/openai_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static oai_limits lim = {"tiny", 32000, 512, 512 * 16, TOOL_HERMES};

/* Templates that select each family, Llama 2 with all of its options. */
static const char *const templates[] = {
    "<|im_start|>",
    "<|start_header_id|><|end_header_id|>",
    "[INST] <<SYS>> bos_token + '[INST]' content.strip()",
    "[INST]",
    "<|assistant|><|end|>",
};

/* The prompt's length in "tokens": its bytes plus BOS (a tokenizer gives at most one id per
 * byte); token ids as given. Renders chats with every family; -1 when a rendering fails. */
static int prompt_length(const oai_request *r, size_t *n_prompt)
{
    if (r->kind == OAI_COMPLETION) {
        *n_prompt = r->prompt_is_tokens ? r->n_prompt_tokens : r->prompt_len + 1;
        return 0;
    }
    *n_prompt = 1;
    for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
        chat_template tmpl = chat_template_detect(templates[t], strlen(templates[t]));
        tok_bytes text = {0};
        model_error merr;
        int rc = r->tools.messages
                     ? chat_template_render_json(&tmpl, r->tools.messages, r->tools.tools, NULL,
                                                 true, &text, &merr)
                     : chat_template_render(&tmpl, r->messages, r->n_messages, true, &text, &merr);
        if (rc == 0 && text.n + 1 > *n_prompt)
            *n_prompt = text.n + 1;
        tok_bytes_free(&text);
        if (rc)
            return -1;
    }
    return 0;
}

/* A rejection is a client error with a JSON body. */
static void check_rejection(const api_error *err)
{
    char *json = api_error_json(err, NULL);
    if (err->status < 400 || err->status > 599 || !err->message[0] ||
        (json && !strstr(json, "\"error\"")))
        __builtin_trap();
    free(json);
}

/* What the engine is given after validation is in range. */
static void check_accepted(const oai_request *r, size_t n_prompt)
{
    /* max_tokens 0 only scores an echoed prompt; best_of >= n, and = n in a stream. */
    if (r->n < 1 || r->n > OAI_MAX_N || (r->max_tokens < 1 && !r->echo) ||
        r->best_of < r->n || r->best_of > OAI_MAX_N || (r->stream && r->best_of != r->n) ||
        (r->echo && r->kind != OAI_COMPLETION) || r->n_stop > OAI_MAX_STOP ||
        r->n_messages > lim.max_model_len || r->prompt_len > lim.max_prompt_bytes ||
        n_prompt + r->max_tokens > lim.max_model_len || r->sampling.max_tokens != r->max_tokens)
        __builtin_trap();
    /* A forced tool call always comes with its grammar. */
    if ((r->tools.choice == OAI_TOOLS_REQUIRED || r->tools.choice == OAI_TOOLS_NAMED) &&
        !r->grammar)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught by the sanitizer. */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    lim.tool_format = (tool_format)(size % 3); /* each reply format's grammar in turn */
    for (int kind = OAI_COMPLETION; kind <= OAI_CHAT; kind++) {
        oai_request r;
        api_error err;
        size_t n_prompt;
        if (oai_request_parse((oai_kind)kind, body, size, &lim, &r, &err) != 0)
            check_rejection(&err);
        else if (prompt_length(&r, &n_prompt) == 0) {
            if (oai_check_lengths(&r, n_prompt, lim.max_model_len, &err) != 0)
                check_rejection(&err);
            else
                check_accepted(&r, n_prompt);
        }
        oai_request_free(&r);
    }
    free(body);
    return 0;
}
