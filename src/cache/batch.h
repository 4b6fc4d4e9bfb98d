/* Batches inside the library: how the put and get paths report item results.
 *
 * A batch counts outstanding results in `pending`; it is done when that reaches zero. A get
 * batch starts with one pending result per item plus the submitter's hold; a put batch
 * with the hold alone, and each write job adds one. Whoever sees pending reach zero
 * finalizes (for a get: truncates at the first failure) and wakes the waiters. */
#ifndef KVSPILL_CACHE_BATCH_H
#define KVSPILL_CACHE_BATCH_H

#include <pthread.h>
#include <stdatomic.h>

#include "kvspill.h"

struct kvs_batch {
    atomic_uint refs; /* the caller's, plus one per job or waiter that still refers to it */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_get;
    bool done;
    size_t pending;
    size_t n;
    size_t loaded;
    kvs_status *status;
    kvs_chunk **chunks;       /* get: the loaded chunks (a reference each) */
    int8_t *tier;             /* get: the tier index that served each item, -1 for none */
    bool *stored;             /* put: stored in at least one tier */
    kvs_chunk_request *reqs;  /* get: the caller's requests, tokens copied into `tokens` */
    int32_t *tokens;
};

/* A batch of n items with the submitter's hold; NULL when out of memory. Get batches copy
 * reqs (and their tokens). */
kvs_batch *kvs_batch_new_get(const kvs_chunk_request *reqs, size_t n);
kvs_batch *kvs_batch_new_put(size_t n);
kvs_batch *kvs_batch_ref(kvs_batch *b);
void kvs_batch_unref(kvs_batch *b);

/* Adds k pending results (a put's write jobs). */
void kvs_batch_hold(kvs_batch *b, size_t k);
/* Drops the submitter's hold. */
void kvs_batch_release_hold(kvs_batch *b);
/* Get: item i's result (takes over the reference to chunk, which is NULL unless st is OK),
 * served by tier (an index into the cache's tiers; -1 when nothing was served). */
void kvs_batch_set_item(kvs_batch *b, size_t i, kvs_chunk *chunk, kvs_status st, int tier);
/* Put: a tier's results for items idx[0..k); merges them without changing pending. */
void kvs_batch_merge_put(kvs_batch *b, const size_t *idx, const kvs_status *st, size_t k);
/* Put: the results of one write job, then one pending result less. */
void kvs_batch_finish_put_job(kvs_batch *b, const size_t *idx, const kvs_status *st, size_t k);
/* Put: item i was dropped or refused before the slow tiers saw it (overrides). */
void kvs_batch_set_put_status(kvs_batch *b, size_t i, kvs_status st);

#endif
