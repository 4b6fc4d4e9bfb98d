/* Logprobs of a row of logits: the log-softmax normalizer and the most likely tokens
 * (ENGINE_MAX_TOP_LOGPROBS at most), for the events of engine.h. */
#ifndef KVSPILL_ENGINE_TOKEN_LOGPROBS_H
#define KVSPILL_ENGINE_TOKEN_LOGPROBS_H

#include <stdint.h>

#include "engine/engine.h"

/* log(sum(exp(row))), computed stably; a token's logprob is row[t] - this. */
double logprobs_normalizer(const float *row, uint32_t n_vocab);
/* The k most likely tokens of row, most likely first (ties: the lower id first), with
 * their logprobs under normalizer; returns how many (k, or n_vocab when smaller). */
uint32_t logprobs_top(const float *row, uint32_t n_vocab, double normalizer, uint32_t k,
                      engine_alt *out);

#endif
