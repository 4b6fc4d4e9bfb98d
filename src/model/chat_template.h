/* Chat prompts. A model's tokenizer.chat_template is rendered by the Jinja interpreter
 * (src/template, as transformers' apply_chat_template renders it): chat_template_load
 * parses it, and a template using a construct outside the interpreter's subset is a load
 * error naming the construct and its line. A model without a template (or a template
 * named on the command line, --chat-template chatml|llama2|llama3|phi3) is rendered by
 * fixed formatters of four families, recognised from markers in a template text (the
 * approach of llama.cpp's llm_chat_apply_template):
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
 * Fallback: no template renders as ChatML (the format of the models `kvspill model gen`
 * writes, and the most widespread one); chat_template.known says whether a family was
 * recognised. BOS is not part of the rendering: the tokenizer adds it (add_special), and
 * a Jinja rendering that starts with bos_token loses it when strip_bos is set (as
 * llama.cpp does), so a prompt never gets two. Tokenize the result with parse_special =
 * true so the markers become their control tokens. */
#ifndef KVSPILL_MODEL_CHAT_TEMPLATE_H
#define KVSPILL_MODEL_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model/model_error.h"
#include "model/tokenizer.h"

typedef enum chat_family { CHAT_CHATML, CHAT_LLAMA3, CHAT_LLAMA2, CHAT_PHI3 } chat_family;

typedef enum chat_source { CHAT_SOURCE_FALLBACK, CHAT_SOURCE_GGUF, CHAT_SOURCE_FLAG } chat_source;

struct jinja_template;

typedef struct chat_template {
    chat_family family;
    bool known;           /* false: the ChatML fallback */
    bool llama2_sys_tags; /* Llama 2: <<SYS>> blocks */
    bool llama2_bos_turns;
    bool llama2_strip;
    struct jinja_template *jinja; /* the template interpreted; NULL: the family's formatter */
    struct jinja_template *jinja_tool_use; /* tokenizer.chat_template.tool_use, for requests with tools */
    chat_source source;
    char *bos_token, *eos_token;  /* the template's bos_token / eos_token (owned) */
    bool strip_bos;
} chat_template;

typedef struct chat_message {
    const char *role; /* "system", "user", "assistant", ... */
    const char *content;
} chat_message;

/* The family of a template text (no interpreter); tmpl may be NULL. */
chat_template chat_template_detect(const char *tmpl, size_t len);
const char *chat_family_name(chat_family f);
const char *chat_source_name(chat_source s); /* "gguf", "fallback", "flag" */

/* A model's template: tmpl (tokenizer.chat_template; NULL or empty: the ChatML fallback)
 * parsed for the interpreter. bos / eos: the texts of the model's BOS and EOS tokens (may
 * be NULL); strip_bos: the tokenizer adds BOS itself. Free with chat_template_free. */
int chat_template_load(chat_template *t, const char *tmpl, size_t len, const char *bos, const char *eos,
                       bool strip_bos, model_error *err) MODEL_MUST_CHECK;
/* The GGUF's named variant tokenizer.chat_template.tool_use (tmpl NULL: none), which
 * renders the requests that carry tools, as transformers picks it. */
int chat_template_add_tool_use(chat_template *t, const char *tmpl, size_t len, model_error *err) MODEL_MUST_CHECK;
/* --chat-template ARG: a family name (chatml, llama2, llama3, phi3) or a Jinja file;
 * replaces t's template (its tokens and strip_bos are kept). */
int chat_template_override(chat_template *t, const char *arg, model_error *err) MODEL_MUST_CHECK;
void chat_template_free(chat_template *t);

/* Appends the prompt to out (NUL-terminated). */
int chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
                         bool add_generation_prompt, tok_bytes *out, model_error *err) MODEL_MUST_CHECK;
/* The same from JSON as an OpenAI request carries it: messages (role, content as a string
 * or a list of parts, tool_calls, tool_call_id, name), tools (NULL: none) and extra
 * template variables (kwargs, an object or NULL). A family formatter uses each message's
 * role and string content only. */
int chat_template_render_json(const chat_template *t, const json_t *messages, const json_t *tools,
                              const json_t *kwargs, bool add_generation_prompt, tok_bytes *out,
                              model_error *err) MODEL_MUST_CHECK;

#endif
