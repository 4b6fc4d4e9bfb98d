/* The cache engine's state, shared by cache.c (open, close, lookup, stats), cache_put.c
 * (write-through with a byte budget) and cache_get.c (tiered loads, single-flight). */
#ifndef KVSPILL_CACHE_CACHE_INTERNAL_H
#define KVSPILL_CACHE_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cache/io_pool.h"
#include "cache/keymap.h"
#include "cache/tier.h"
#include "kvspill.h"

struct kvs_cache {
    kvs_config cfg;
    kvs_tier *tiers[KVS_MAX_TIERS]; /* fastest first */
    uint32_t n_tiers;
    kvs_tier *mem;                  /* tiers[0] when the mem tier is on, else NULL */
    uint32_t first_slow;            /* the first tier the I/O threads serve */
    int local_disk;                 /* index of the local disk tier, -1 when off */
    kvs_io_pool pool;

    /* The write queue: bytes of chunks waiting for slow tiers, and jobs not yet finished
     * (flush waits for zero). */
    pthread_mutex_t write_lock;
    pthread_cond_t write_idle;
    uint64_t write_queue_bytes;
    uint64_t write_jobs;

    /* Loads in flight, by (ns, key): later gets of the same chunk join them. */
    pthread_mutex_t flight_lock;
    kvs_keymap flights;

    atomic_uint_fast64_t lookups, lookup_hit_chunks, lookup_miss_chunks;
    atomic_uint_fast64_t puts, dropped_puts, gets, single_flight_joins;
};

/* Reserves bytes of the write budget; false when they do not fit (the put is dropped). */
bool kvs_cache_write_reserve(kvs_cache *cache, uint64_t bytes);
/* Queues one write job per tier of tiers[0..n) for chunks[0..k) (reserved already;
 * n and k > 0).
 * batch (may be NULL) gets each job's results for items idx[0..k). Takes a reference to
 * each chunk; the reservation is returned when the last of the jobs finishes. */
void kvs_cache_write_submit(kvs_cache *cache, kvs_tier *const *tiers, size_t n,
                            kvs_chunk *const *chunks, const size_t *idx, size_t k,
                            kvs_batch *batch);

#endif
