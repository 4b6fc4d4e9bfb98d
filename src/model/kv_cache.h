/* The KV cache as the forward pass sees it: paged storage addressed through a block table.
 *
 * Positions of a sequence live in blocks of block_tokens tokens; the block table of a
 * sequence maps position p to block table[p / block_tokens], row p % block_tokens. In a
 * block, each layer's K (and V) is [block_tokens][n_kv_heads][head_dim] elements of dtype,
 * rows of n_kv_heads·head_dim elements. The forward pass reserves the positions it will
 * write, writes the new tokens' K/V rows and reads rows [0, pos] of each sequence. The
 * serving layer's paged cache implements these ops; kv_contiguous.c is the simple one. */
#ifndef KVSPILL_MODEL_KV_CACHE_H
#define KVSPILL_MODEL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

typedef enum kv_dtype { KV_F16 = 0, KV_F32 = 1 } kv_dtype;

typedef struct kv_cache kv_cache;
typedef struct backend backend; /* model/backend.h */

typedef struct kv_cache_ops {
    /* Makes positions [0, n_pos) of sequence seq addressable (allocating blocks). */
    int (*reserve)(kv_cache *kv, uint32_t seq, uint32_t n_pos, model_error *err);
    /* The block table of seq: at least ceil(n_pos / block_tokens) entries as reserved. */
    const uint32_t *(*block_table)(kv_cache *kv, uint32_t seq);
    /* Start of block `block`'s K or V rows for `layer`. */
    void *(*k_block)(kv_cache *kv, uint32_t layer, uint32_t block);
    void *(*v_block)(kv_cache *kv, uint32_t layer, uint32_t block);
    void (*destroy)(kv_cache *kv);
} kv_cache_ops;

/* Implementations embed this as their first member. */
struct kv_cache {
    const kv_cache_ops *ops;
    kv_dtype dtype;
    uint32_t block_tokens;
    uint32_t n_layer, n_kv_heads, head_dim;
};

static inline size_t kv_dtype_size(kv_dtype t) { return t == KV_F32 ? 4 : 2; }
static inline size_t kv_row_elems(const kv_cache *kv)
{
    return (size_t)kv->n_kv_heads * kv->head_dim;
}
/* Parses "f16" / "f32"; -1 when unknown. */
int kv_dtype_parse(const char *s, kv_dtype *out);

/* Contiguous cache: n_seq sequences of up to max_pos positions each, preallocated in
 * backend b's memory (NULL: host memory). b must outlive the cache. */
int kv_contiguous_create(backend *b, uint32_t n_layer, uint32_t n_kv_heads, uint32_t head_dim,
                         uint32_t n_seq, uint32_t max_pos, kv_dtype dtype,
                         kv_cache **out, model_error *err) MODEL_MUST_CHECK;

static inline void kv_cache_destroy(kv_cache *kv)
{
    if (kv)
        kv->ops->destroy(kv);
}

#endif
