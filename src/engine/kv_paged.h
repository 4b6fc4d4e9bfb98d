/* The engine's paged KV cache (kv_cache_ops of model/kv_cache.h): one pool of blocks of
 * KV_PAGED_BLOCK tokens, per-sequence block tables, block reference counts so sequences can
 * share prefix blocks, and a free list in LRU order. A freed block keeps its bytes (and its
 * prefix-cache identity) until it is handed out again, oldest-freed first; the evict hook
 * tells the prefix cache when that happens. */
#ifndef KVSPILL_ENGINE_KV_PAGED_H
#define KVSPILL_ENGINE_KV_PAGED_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine_error.h"
#include "model/kv_cache.h"

#define KV_PAGED_BLOCK 16
#define KV_PAGED_NONE UINT32_MAX

typedef struct kv_paged kv_paged;

/* Called when a free block is handed out again, so whoever cached its contents forgets it. */
typedef void (*kv_paged_evict_fn)(void *user, uint32_t block);

/* As many blocks as fit in bytes (at least one); n_seq sequence slots of at most
 * max_blocks_per_seq blocks each. The pool is backend be's memory (NULL: host memory),
 * resident from creation (model/kv_pool_mem.h); be must outlive the cache. */
int kv_paged_create(backend *be, uint32_t n_layer, uint32_t n_kv_heads, uint32_t head_dim,
                    kv_dtype dtype, uint64_t bytes, uint32_t n_seq, uint32_t max_blocks_per_seq,
                    kv_paged **out, engine_error *err) ENGINE_MUST_CHECK;
kv_cache *kv_paged_cache(kv_paged *p);
void kv_paged_set_evict(kv_paged *p, kv_paged_evict_fn fn, void *user);

uint32_t kv_paged_n_blocks(const kv_paged *p);
/* Blocks with no reference (free, cached or not). */
uint32_t kv_paged_n_free(const kv_paged *p);
uint32_t kv_paged_refcount(const kv_paged *p, uint32_t block);

/* Takes a block off the head of the free list (the least recently freed) with one
 * reference; KV_PAGED_NONE when none is free. */
uint32_t kv_paged_alloc(kv_paged *p);
/* One more reference; a free block is taken off the free list (a prefix-cache hit). */
void kv_paged_ref(kv_paged *p, uint32_t block);
/* One reference less; at zero the block goes to the tail of the free list. */
void kv_paged_unref(kv_paged *p, uint32_t block);

/* Sequence slots: appending moves the caller's reference into the table. */
int kv_paged_seq_append(kv_paged *p, uint32_t seq, uint32_t block, engine_error *err) ENGINE_MUST_CHECK;
uint32_t kv_paged_seq_len(const kv_paged *p, uint32_t seq);
const uint32_t *kv_paged_seq_table(const kv_paged *p, uint32_t seq);
/* Allocates blocks until seq covers n_pos positions; -1 (nothing allocated kept) when
 * the pool runs out. */
int kv_paged_seq_reserve(kv_paged *p, uint32_t seq, uint32_t n_pos, engine_error *err) ENGINE_MUST_CHECK;
/* Drops every block of seq (unref) and empties its table. */
void kv_paged_seq_free(kv_paged *p, uint32_t seq);

#endif
