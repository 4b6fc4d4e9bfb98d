/* Response bodies of the OpenAI completion endpoints: whole responses, server-sent-event
 * chunks of a stream, usage, and logprobs. */
#ifndef KVSPILL_SERVER_OPENAI_RESPONSE_H
#define KVSPILL_SERVER_OPENAI_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "server/openai_request.h"

typedef struct oai_usage {
    uint32_t prompt_tokens, completion_tokens, cached_tokens;
    /* The kvspill extension: cached_tokens by source, the offload tiers' names (NULL
     * past the last), the time to the first token (0: none yet). */
    engine_cached_by cached_by;
    const char *tier_names[KVS_MAX_TIERS];
    double ttft_ms;
} oai_usage;

/* Identity shared by the response or by every chunk of a stream. */
typedef struct oai_meta {
    oai_kind kind;
    char id[48];       /* "cmpl-..." or "chatcmpl-..." */
    long long created;
    const char *model;
} oai_meta;

void oai_meta_init(oai_meta *m, oai_kind kind, const char *model_name);

/* One choice of a whole response. */
typedef struct oai_choice {
    const char *text;           /* chat: NULL for a null content (a reply of tool calls) */
    size_t len;
    const char *prefix;         /* completions' echo: the prompt, before text (or NULL) */
    size_t prefix_len;
    json_t *tool_calls;         /* chat: message.tool_calls (borrowed), NULL when none */
    const char *finish_reason;  /* "stop", "length", "tool_calls", NULL while running */
    json_t *logprobs;           /* borrowed; NULL → null */
} oai_choice;

/* A JSON string of text that may hold invalid UTF-8 (bad bytes become U+FFFD). */
json_t *oai_text(const char *text, size_t len);
/* The length of oai_text(text, len) in characters (code points), the unit of completions'
 * text_offset as vLLM counts it (len of a Python string); 0 when out of memory. */
size_t oai_text_chars(const char *text, size_t len);

json_t *oai_usage_json(const oai_usage *u);
/* The "kvspill" object of a response: {"cached_tokens": {"prefix_cache": n, "<tier>": n...},
 * "recomputed": n, "ttft_ms": x}. */
json_t *oai_kvspill_json(const oai_usage *u);
/* The whole non-streaming body, malloc'd. */
char *oai_response_body(const oai_meta *m, const oai_choice *choices, size_t n,
                        const oai_usage *u, size_t *len);

/* One "data: {...}\n\n" event for choice index: a text delta (chat: with the assistant role
 * when first), the finish reason when finish_reason is set. Appended to out. */
int oai_chunk_append(const oai_meta *m, uint32_t index, const char *text, size_t len,
                     bool first, const char *finish_reason, json_t *logprobs, tok_bytes *out);
/* Chat chunks of delta.tool_calls, two per call of calls (tool_parse.h's shape), as the
 * OpenAI API streams them: the call's index, id, type and name with arguments "", then its
 * arguments; the first with the assistant role when first. */
int oai_tool_calls_chunk_append(const oai_meta *m, uint32_t index, json_t *calls, bool first,
                                tok_bytes *out);
/* The usage-only chunk of stream_options.include_usage (empty choices). */
int oai_usage_chunk_append(const oai_meta *m, const oai_usage *u, tok_bytes *out);
int oai_done_append(tok_bytes *out);

/* Logprobs of the tokens of one choice (or of one chunk): completions use
 * {tokens, token_logprobs, top_logprobs, text_offset}, chat {content: [...]}. */
json_t *oai_logprobs_new(oai_kind kind);
/* How many tokens lp holds. */
size_t oai_logprobs_count(json_t *lp, oai_kind kind);

/* A token as logprobs show it: its text (the piece's bytes) and its logprob. */
typedef struct oai_token_lp {
    const char *piece;
    size_t len;
    float logprob;
} oai_token_lp;

/* Adds tok, with alts, the position's most likely tokens, most likely first. Completions:
 * top_logprobs is a dict of alts and tok ("up to logprobs + 1" entries, as OpenAI and
 * vLLM); chat: content[].top_logprobs lists alts. */
int oai_logprobs_add(json_t *lp, oai_kind kind, const oai_token_lp *tok,
                     const oai_token_lp *alts, size_t n_alts, size_t text_offset);
/* Completions with echo: the prompt's first token, whose logprob and top_logprobs are null
 * (nothing precedes it). */
int oai_logprobs_add_first(json_t *lp, const char *piece, size_t len);

#endif
