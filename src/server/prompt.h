/* A request's prompt as the model sees it, from a tokenizer and a chat template alone (no
 * engine): what serve tokenizes, and what `kvspill router --model` computes chunk keys
 * from (docs/router.md), so that both get the same tokens. */
#ifndef KVSPILL_SERVER_PROMPT_H
#define KVSPILL_SERVER_PROMPT_H

#include <stdbool.h>

#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "server/api_error.h"
#include "server/openai_request.h"

/* The model's chat template as serve renders it: tmpl and tool_use (the GGUF's
 * tokenizer.chat_template and tokenizer.chat_template.tool_use, NULL for none) with the
 * tokenizer's BOS/EOS texts, then --chat-template override (NULL for none). */
int prompt_template_load(chat_template *t, const tokenizer *tk, const char *tmpl,
                         const char *tool_use, const char *override,
                         model_error *err) MODEL_MUST_CHECK;

/* The prompt of a parsed request as token ids: completion text through the tokenizer (BOS
 * as the model asks, special-token texts parsed), token ids as given, chat messages —
 * messages[0, n_messages) of them — through the template. */
int prompt_tokens(const tokenizer *tk, const chat_template *t, const oai_request *r,
                  size_t n_messages, bool add_generation_prompt, token_ids *out,
                  api_error *err);

#endif
