/* Automatic prefix caching over full KV blocks (vLLM APC): a block's hash is the key chain
 * of ARCHITECTURE.md §3 at block granularity, rooted in the request's namespace id, so a
 * hash names the block's tokens and everything before them. The map hash → block holds blocks in use
 * and freed blocks alike; a freed block stays findable until the paged cache hands it out
 * again (LRU), when the evict hook drops it. */
#ifndef KVSPILL_ENGINE_PREFIX_CACHE_H
#define KVSPILL_ENGINE_PREFIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kv_paged.h"
#include "kvspill.h"

typedef struct prefix_cache prefix_cache;

/* Installs itself as the evict hook of kv. */
int prefix_cache_create(kv_paged *kv, prefix_cache **out, engine_error *err) ENGINE_MUST_CHECK;
void prefix_cache_destroy(prefix_cache *pc);

/* Extends a chain of block hashes: hashes[0..n_have) are known; appends the hashes of the
 * full blocks of tokens[n_have·16, n_tokens) and returns the new count. hashes has room
 * for n_tokens / 16 entries. */
uint32_t prefix_hash_extend(const kvs_key *ns, const int32_t *tokens, uint32_t n_tokens,
                            kvs_key *hashes, uint32_t n_have);

/* The block cached under hash, with one reference taken, or KV_PAGED_NONE. */
uint32_t prefix_cache_get(prefix_cache *pc, const kvs_key *hash);
/* Registers a full block's hash; a no-op when the hash is already cached (another
 * sequence computed the same block) or the block already has one. */
void prefix_cache_put(prefix_cache *pc, const kvs_key *hash, uint32_t block);
/* How many of hashes[0..n) lead the chain unbroken in the cache: the blocks a request for
 * those hashes would find now. Safe from any thread (the other calls are the scheduler's). */
uint32_t prefix_cache_count_prefix(prefix_cache *pc, const kvs_key *hashes, uint32_t n);
/* Blocks currently findable. */
uint32_t prefix_cache_size(const prefix_cache *pc);

#endif
