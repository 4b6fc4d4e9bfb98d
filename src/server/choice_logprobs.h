/* The logprobs of a choice from the engine's tokens (generation.h): each token and its
 * alternatives as the pieces of text they stand for, in the shape of openai_response.h. */
#ifndef KVSPILL_SERVER_CHOICE_LOGPROBS_H
#define KVSPILL_SERVER_CHOICE_LOGPROBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "model/tokenizer.h"
#include "server/openai_request.h"

/* Adds token (logprob) with the first k of top (a token -1 ends them early) at text_offset;
 * *chars gets the length of the token's text in characters (oai_text_chars), which the
 * next token's text_offset adds. -1 when out of memory. */
int choice_logprobs_add(json_t *lp, oai_kind kind, const tokenizer *tk, int32_t token,
                        float logprob, const engine_alt *top, uint32_t k, size_t text_offset,
                        size_t *chars);
/* Echo: the prompt's first token, which has no logprob; *chars as above. */
int choice_logprobs_first(json_t *lp, const tokenizer *tk, int32_t token, size_t *chars);

#endif
