/* Choosing the next token from logits: greedy or seeded random sampling with the usual
 * filters, penalties over recent tokens, logit bias, and the stop conditions.
 *
 * Order of operations (as llama.cpp's default chain): logit bias, penalties, then greedy
 * (temperature <= 0) or top-k → top-p → min-p (on probabilities at temperature 1) →
 * temperature → a draw from the remaining candidates. */
#ifndef KVSPILL_MODEL_SAMPLER_H
#define KVSPILL_MODEL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

typedef struct sampler_bias {
    int32_t token;
    float bias; /* added to the logit; -INFINITY bans the token */
} sampler_bias;

typedef struct sampler_config {
    float temperature;        /* <= 0: greedy */
    int32_t top_k;            /* 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* 0: off */
    uint64_t seed;
    float repetition_penalty; /* 1: off; positive logits divided, negative multiplied */
    float presence_penalty;   /* 0: off; subtracted once from each seen token */
    float frequency_penalty;  /* 0: off; subtracted per occurrence */
    uint32_t penalty_last_n;  /* window of accepted tokens the penalties look at; 0: all */
    const sampler_bias *bias;
    size_t n_bias;
    const int32_t *stop_tokens;
    size_t n_stop;
    uint32_t max_tokens;      /* 0: no limit */
} sampler_config;

/* Greedy, no penalties, no limit. */
sampler_config sampler_config_default(void);

typedef struct sampler sampler;

/* The config's arrays are copied. */
int sampler_create(const sampler_config *cfg, uint32_t n_vocab, sampler **out,
                   model_error *err) MODEL_MUST_CHECK;
void sampler_destroy(sampler *s);

/* Records a token the sequence now holds (prompt or generated) for the penalties. */
void sampler_accept(sampler *s, int32_t token);
/* Picks a token; logits (n_vocab) are modified in place. */
int32_t sampler_sample(sampler *s, float *logits);
/* True when generation ends after `token`, the n_generated-th generated token. */
int sampler_should_stop(const sampler *s, int32_t token, uint32_t n_generated);

#endif
