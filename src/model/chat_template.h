/* Chat prompts without a Jinja engine: the family is recognised from markers in the
 * model's tokenizer.chat_template, and messages are rendered by fixed formatters (the
 * approach of llama.cpp's llm_chat_apply_template).
 *
 *   ChatML  ("<|im_start|>")       <|im_start|>{role}\n{content}<|im_end|>\n ...
 *                                  generation prompt: <|im_start|>assistant\n
 *   Llama 3 ("<|start_header_id|>") <|start_header_id|>{role}<|end_header_id|>\n\n{trimmed}<|eot_id|>
 *                                  generation prompt: <|start_header_id|>assistant<|end_header_id|>\n\n
 *   Llama 2 / Mistral ("[INST]")   [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]{assistant}</s>[INST] ...
 *                                  (system as "{system}\n" when the template has no <<SYS>>;
 *                                  "<s>[INST] " for later turns when it writes bos_token + '[INST]';
 *                                  contents trimmed when it uses content.strip(); no generation prompt)
 *   Phi-3   ("<|assistant|>" and "<|end|>") <|{role}|>\n{content}<|end|>\n; prompt <|assistant|>\n
 *
 * Fallback: a template that is absent or matches none of these renders as ChatML (the
 * format of the models `kvspill model gen` writes, and the most widespread one);
 * chat_template.known says whether the family was recognised. BOS is not part of the
 * rendering: the tokenizer adds it (add_special). Tokenize the result with
 * parse_special = true so the markers become their control tokens. */
#ifndef KVSPILL_MODEL_CHAT_TEMPLATE_H
#define KVSPILL_MODEL_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model_error.h"
#include "model/tokenizer.h"

typedef enum chat_family { CHAT_CHATML, CHAT_LLAMA3, CHAT_LLAMA2, CHAT_PHI3 } chat_family;

typedef struct chat_template {
    chat_family family;
    bool known;           /* false: the ChatML fallback */
    bool llama2_sys_tags; /* Llama 2: <<SYS>> blocks */
    bool llama2_bos_turns;
    bool llama2_strip;
} chat_template;

typedef struct chat_message {
    const char *role; /* "system", "user", "assistant", ... */
    const char *content;
} chat_message;

/* tmpl may be NULL (no template in the model). */
chat_template chat_template_detect(const char *tmpl, size_t len);
const char *chat_family_name(chat_family f);
/* Appends the prompt to out (NUL-terminated). */
int chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
                         bool add_generation_prompt, tok_bytes *out, model_error *err) MODEL_MUST_CHECK;

#endif
