/* The batched Llama forward pass on CPU.
 *
 * One call evaluates any mix of tokens: a prompt (prefill), one new token of each of many
 * sequences (decode), or both. Token i has its sequence and position; its K and V are
 * written to the KV cache at (seq, pos) for every layer, and it attends to positions
 * [0, pos] of its sequence — earlier positions must already be in the cache or in the
 * same batch. Logits are returned for the requested batch rows only. */
#ifndef KVSPILL_MODEL_FORWARD_H
#define KVSPILL_MODEL_FORWARD_H

#include <stdint.h>

#include "model/kernels.h"
#include "model/kv_cache.h"
#include "model/model.h"

typedef struct fwd_batch {
    uint32_t n_tokens;
    const int32_t *tokens;
    const uint32_t *pos;
    const uint32_t *seq;
    /* Batch rows whose logits are wanted; logits come back in this order. */
    uint32_t n_out;
    const uint32_t *out_rows;
} fwd_batch;

typedef struct fwd_ctx fwd_ctx;

/* ks NULL means kern_get(KERN_AUTO). */
int fwd_create(const model *m, int n_threads, const kern_set *ks, fwd_ctx **out,
               model_error *err) MODEL_MUST_CHECK;
void fwd_destroy(fwd_ctx *c);
const kern_set *fwd_kernels(const fwd_ctx *c);
int fwd_threads(const fwd_ctx *c);

/* Whether batch b is valid for model m and cache kv (tokens in the vocabulary, positions,
 * logits rows, cache shape): what every backend's eval checks first, with one message. */
int fwd_check_batch(const model *m, const kv_cache *kv, const fwd_batch *b,
                    model_error *err) MODEL_MUST_CHECK;

/* logits: n_out × n_vocab floats. */
int fwd_eval(fwd_ctx *c, kv_cache *kv, const fwd_batch *b, float *logits,
             model_error *err) MODEL_MUST_CHECK;

#endif
