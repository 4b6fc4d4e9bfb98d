/* The hash → block map of the prefix cache: separate chaining where the chain links are
 * the blocks themselves (a block holds at most one hash), so the map never allocates after
 * creation. The scheduler thread alone changes the map and reads it unlocked; its changes
 * take the write lock so that prefix_cache_count_prefix can read from any thread. */
#include "engine/prefix_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct prefix_cache {
    kv_paged *kv;
    uint32_t n_buckets; /* a power of two */
    uint32_t *buckets;  /* first block of each chain */
    uint32_t *chain;    /* next block in the same bucket */
    kvs_key *hash;      /* per block */
    bool *cached;       /* per block: hash is valid and in the map */
    uint32_t size;
    pthread_rwlock_t lock;
    bool lock_made;
};

static uint32_t bucket_of(const prefix_cache *pc, const kvs_key *h)
{
    uint32_t x;
    memcpy(&x, h->b, sizeof x); /* SHA-256 bytes are uniform */
    return x & (pc->n_buckets - 1);
}

static void forget(void *user, uint32_t block)
{
    prefix_cache *pc = user;
    if (!pc->cached[block])
        return;
    pthread_rwlock_wrlock(&pc->lock);
    uint32_t *link = &pc->buckets[bucket_of(pc, &pc->hash[block])];
    while (*link != block)
        link = &pc->chain[*link];
    *link = pc->chain[block];
    pc->cached[block] = false;
    pc->size--;
    pthread_rwlock_unlock(&pc->lock);
}

static uint32_t find(const prefix_cache *pc, const kvs_key *hash)
{
    for (uint32_t b = pc->buckets[bucket_of(pc, hash)]; b != KV_PAGED_NONE; b = pc->chain[b])
        if (kvs_key_equal(&pc->hash[b], hash))
            return b;
    return KV_PAGED_NONE;
}

int prefix_cache_create(kv_paged *kv, prefix_cache **out, engine_error *err)
{
    *out = NULL;
    uint32_t n = kv_paged_n_blocks(kv), nb = 1;
    while (nb < n && nb < (1u << 30))
        nb <<= 1;
    prefix_cache *pc = calloc(1, sizeof *pc);
    if (pc) {
        pc->kv = kv;
        pc->n_buckets = nb;
        pc->buckets = malloc(nb * sizeof *pc->buckets);
        pc->chain = malloc(n * sizeof *pc->chain);
        pc->hash = malloc(n * sizeof *pc->hash);
        pc->cached = calloc(n, sizeof *pc->cached);
        pc->lock_made = pthread_rwlock_init(&pc->lock, NULL) == 0;
    }
    if (!pc || !pc->buckets || !pc->chain || !pc->hash || !pc->cached || !pc->lock_made) {
        prefix_cache_destroy(pc);
        return engine_fail(err, "prefix cache: out of memory for %u blocks", n);
    }
    memset(pc->buckets, 0xff, nb * sizeof *pc->buckets);
    kv_paged_set_evict(kv, forget, pc);
    *out = pc;
    return 0;
}

void prefix_cache_destroy(prefix_cache *pc)
{
    if (!pc)
        return;
    if (pc->kv)
        kv_paged_set_evict(pc->kv, NULL, NULL);
    free(pc->buckets);
    free(pc->chain);
    free(pc->hash);
    free(pc->cached);
    if (pc->lock_made)
        pthread_rwlock_destroy(&pc->lock);
    free(pc);
}

uint32_t prefix_hash_extend(const kvs_key *ns, const int32_t *tokens, uint32_t n_tokens,
                            kvs_key *hashes, uint32_t n_have)
{
    uint32_t n_full = n_tokens / KV_PAGED_BLOCK;
    for (uint32_t i = n_have; i < n_full; i++)
        kvs_key_next(i ? &hashes[i - 1] : ns, tokens + (size_t)i * KV_PAGED_BLOCK,
                     KV_PAGED_BLOCK, &hashes[i]);
    return n_full > n_have ? n_full : n_have;
}

uint32_t prefix_cache_get(prefix_cache *pc, const kvs_key *hash)
{
    uint32_t b = find(pc, hash);
    if (b != KV_PAGED_NONE)
        kv_paged_ref(pc->kv, b);
    return b;
}

void prefix_cache_put(prefix_cache *pc, const kvs_key *hash, uint32_t block)
{
    if (pc->cached[block] || find(pc, hash) != KV_PAGED_NONE)
        return;
    pthread_rwlock_wrlock(&pc->lock);
    pc->hash[block] = *hash;
    uint32_t *head = &pc->buckets[bucket_of(pc, hash)];
    pc->chain[block] = *head;
    *head = block;
    pc->cached[block] = true;
    pc->size++;
    pthread_rwlock_unlock(&pc->lock);
}

uint32_t prefix_cache_count_prefix(prefix_cache *pc, const kvs_key *hashes, uint32_t n)
{
    pthread_rwlock_rdlock(&pc->lock);
    uint32_t i = 0;
    while (i < n && find(pc, &hashes[i]) != KV_PAGED_NONE)
        i++;
    pthread_rwlock_unlock(&pc->lock);
    return i;
}

uint32_t prefix_cache_size(const prefix_cache *pc) { return pc->size; }
