/* Requests' prompts as token ids. */
#include "server/server.h"

#include <string.h>

int server_prompt_tokens(server *s, const oai_request *r, bool add_generation_prompt,
                         token_ids *out, api_error *err)
{
    const tokenizer *tk = engine_tokenizer(s->e);
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
                       ? chat_template_render_json(&s->tmpl, r->tools.messages, r->tools.tools,
                                                   NULL, add_generation_prompt, &text, &merr)
                       : chat_template_render(&s->tmpl, r->messages, r->n_messages,
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
