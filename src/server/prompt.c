/* Requests' prompts as token ids. */
#include "server/prompt.h"

#include <stdio.h>
#include <string.h>

#include "server/server.h"

static const char *token_text(const tokenizer *tk, int32_t id, char *buf, size_t cap)
{
    size_t len = 0;
    const char *t = id >= 0 ? tokenizer_token_text(tk, id, &len) : NULL;
    snprintf(buf, cap, "%.*s", t ? (int)len : 0, t ? t : "");
    return buf;
}

int prompt_template_load(chat_template *t, const tokenizer *tk, const char *tmpl,
                         const char *tool_use, const char *override, model_error *err)
{
    char bos[256], eos[256];
    if (chat_template_load(t, tmpl, tmpl ? strlen(tmpl) : 0,
                           token_text(tk, tokenizer_bos(tk), bos, sizeof bos),
                           token_text(tk, tokenizer_eos(tk), eos, sizeof eos),
                           tokenizer_add_bos(tk), err))
        return -1;
    if (chat_template_add_tool_use(t, tool_use, tool_use ? strlen(tool_use) : 0, err) ||
        (override && chat_template_override(t, override, err))) {
        chat_template_free(t);
        return -1;
    }
    return 0;
}

int server_prompt_tokens(server *s, const oai_request *r, bool add_generation_prompt,
                         token_ids *out, api_error *err)
{
    return prompt_tokens(engine_tokenizer(s->e), &s->tmpl, r, r->n_messages,
                         add_generation_prompt, out, err);
}

int prompt_tokens(const tokenizer *tk, const chat_template *t, const oai_request *r,
                  size_t n_messages, bool add_generation_prompt, token_ids *out,
                  api_error *err)
{
    model_error merr;
    if (r->kind == OAI_COMPLETION && r->prompt_is_tokens) {
        for (size_t i = 0; i < r->n_prompt_tokens; i++)
            if (token_ids_push(out, r->prompt_tokens[i]))
                return api_fail(err, 500, NULL, NULL, "out of memory copying the prompt");
        return 0;
    }
    if (r->kind == OAI_COMPLETION) {
        if (tokenizer_encode(tk, r->prompt_text, r->prompt_len, true, true, out, &merr))
            return api_fail(err, 400, "prompt", NULL, "cannot tokenize the prompt: %s", merr.msg);
        return 0;
    }
    tok_bytes text = {0};
    /* Tools and tool turns need the messages as sent; plain chats render from the parsed
     * messages, whose content parts are already joined. */
    int rendered = r->tools.messages
                       ? chat_template_render_json(t, r->tools.messages, r->tools.tools,
                                                   NULL, add_generation_prompt, &text, &merr)
                       : chat_template_render(t, r->messages, n_messages,
                                              add_generation_prompt, &text, &merr);
    if (rendered) {
        tok_bytes_free(&text);
        return api_fail(err, 400, "messages", NULL, "cannot render the chat: %s", merr.msg);
    }
    int rc = tokenizer_encode(tk, text.p, text.n, true, true, out, &merr);
    tok_bytes_free(&text);
    if (rc)
        return api_fail(err, 400, "messages", NULL, "cannot tokenize the chat: %s", merr.msg);
    return 0;
}
