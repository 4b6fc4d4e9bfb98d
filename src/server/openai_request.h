/* Parsing and validating the bodies of POST /v1/completions and /v1/chat/completions
 * (OpenAI fields plus vLLM's additions). Checks here need no tokenizer: types, ranges,
 * the model name, token ids against the vocabulary size. Length limits that need the
 * tokenized prompt are checked by the caller with oai_check_lengths. */
#ifndef KVSPILL_SERVER_OPENAI_REQUEST_H
#define KVSPILL_SERVER_OPENAI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/chat_template.h"
#include "model/sampler.h"
#include "server/api_error.h"
#include "server/tool_calls.h"

typedef enum oai_kind { OAI_COMPLETION, OAI_CHAT } oai_kind;

#define OAI_MAX_N 64          /* choices per request */
#define OAI_MAX_STOP 16       /* stop strings per request */
#define OAI_MAX_LOGPROBS 20

typedef struct oai_limits {
    const char *model_name;   /* the served name; a request naming another model → 404 */
    uint32_t n_vocab;         /* token ids must be below it (0: not checked) */
    uint32_t max_model_len;   /* max_tokens above it → 400, and more messages than it (each
                               * renders to one token at least) → 400 (0: not checked) */
    size_t max_prompt_bytes;  /* prompt text (completions) or message contents (chat) longer
                               * than this cannot fit the context: 400 before tokenizing
                               * (0: not checked); see oai_max_prompt_bytes */
    tool_format tool_format;  /* how tool calls are written (--tool-call-parser) */
} oai_limits;

typedef struct oai_request {
    oai_kind kind;
    /* Completions: the prompt as text, or as token ids when prompt_is_tokens. */
    char *prompt_text;
    size_t prompt_len;
    bool prompt_is_tokens;
    int32_t *prompt_tokens;
    size_t n_prompt_tokens;
    /* Chat: messages with owned strings. */
    chat_message *messages;
    size_t n_messages;

    bool max_tokens_set;
    uint32_t max_tokens;
    sampler_config sampling;  /* bias and stop_tokens point into the arrays below */
    sampler_bias *bias;
    int32_t *stop_token_ids;
    uint32_t n;
    uint32_t best_of;         /* candidates generated; the n most likely are returned (>= n) */
    char *stop[OAI_MAX_STOP];
    size_t n_stop;
    bool stream, include_usage;
    bool logprobs;            /* report the chosen token's logprob */
    uint32_t top_logprobs;    /* and this many alternatives (completions: 'logprobs') */
    bool echo;                /* completions: the prompt before the text, and with logprobs
                               * its tokens' logprobs; max_tokens 0 then scores the prompt */
    bool seed_set;
    char *cache_salt;
    char *grammar;            /* GBNF the output must match (structured_output.h, or a forced
                               * tool call's, tool_grammar.h), or NULL */
    oai_tools tools;          /* chat: tools, tool_choice, the messages as JSON */
} oai_request;

/* The longest text, in bytes, that can tokenize to at most max_model_len tokens when no
 * token's text is longer than max_piece_bytes. */
size_t oai_max_prompt_bytes(uint32_t max_model_len, size_t max_piece_bytes);

/* Parses body (not NUL-terminated) into out, which the caller frees with
 * oai_request_free even on failure. Unknown fields are ignored. */
int oai_request_parse(oai_kind kind, const char *body, size_t len, const oai_limits *lim,
                      oai_request *out, api_error *err);
void oai_request_free(oai_request *r);

/* With the prompt's token count known: a prompt that leaves no room in max_model_len, or
 * prompt + max_tokens over it, is a 400. Sets r->max_tokens to the room left when the
 * client gave none (chat) or to 16 (completions, as OpenAI and vLLM do). */
int oai_check_lengths(oai_request *r, size_t n_prompt, uint32_t max_model_len, api_error *err);

#endif
