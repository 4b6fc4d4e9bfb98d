/* kvs_get_async: memory answers at once; the rest is loaded by the I/O threads from the
 * slow tiers, fastest first, each tier getting the whole remaining batch. Hits from slow
 * tiers are promoted. A chunk already being loaded for another batch is not loaded twice:
 * the later request joins the load in flight (single-flight). */
#include <stdlib.h>
#include <string.h>

#include "cache/batch.h"
#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/object.h"

typedef struct waiter {
    kvs_batch *batch; /* a reference */
    size_t index;
    struct waiter *next;
} waiter;

typedef struct flight {
    kvs_keymap_node node; /* first: the map hands back this pointer */
    kvs_chunk_request req; /* the first requester's; tokens live in its batch */
    waiter *waiters;
} flight;

typedef struct load_job {
    kvs_job job;
    kvs_cache *cache;
    kvs_key ns;
    size_t n;
    flight **flights;
} load_job;

static bool tokens_match(const kvs_chunk *c, const kvs_chunk_request *r)
{
    return !r->tokens || (c->info.n_tokens == r->n_tokens &&
                          memcmp(c->tokens, r->tokens, r->n_tokens * sizeof *r->tokens) == 0);
}

/* Gives every waiter in list its own reference to the chunk (or st), served by tier. */
static void serve(waiter *list, kvs_chunk *chunk, kvs_status st, int tier)
{
    for (waiter *w = list, *next; w; w = next) {
        next = w->next;
        const kvs_chunk_request *r = &w->batch->reqs[w->index];
        if (chunk && !tokens_match(chunk, r)) /* a joiner that expected other tokens */
            kvs_batch_set_item(w->batch, w->index, NULL, KVS_ERR_CORRUPT, -1);
        else
            kvs_batch_set_item(w->batch, w->index, chunk ? kvs_chunk_ref(chunk) : NULL, st,
                               tier);
        kvs_batch_unref(w->batch);
        free(w);
    }
}

/* Serves the waiters f has now and keeps it in flight: gets that come meanwhile join it. */
static void serve_early(kvs_cache *cache, flight *f, kvs_chunk *chunk, int tier)
{
    pthread_mutex_lock(&cache->flight_lock);
    waiter *list = f->waiters;
    f->waiters = NULL;
    pthread_mutex_unlock(&cache->flight_lock);
    serve(list, chunk, KVS_OK, tier);
}

/* Ends a flight: later gets start a new one (or hit the promoted copy in memory); every
 * waiter gets its own reference to the chunk, served by tier. Takes over the reference to
 * chunk. */
static void land(kvs_cache *cache, flight *f, kvs_chunk *chunk, kvs_status st, int tier)
{
    pthread_mutex_lock(&cache->flight_lock);
    kvs_keymap_remove(&cache->flights, &f->node);
    pthread_mutex_unlock(&cache->flight_lock);
    serve(f->waiters, chunk, st, tier);
    kvs_chunk_release(chunk);
    free(f);
}

/* Copies a hit in host memory into the faster tiers: memory now, the local disk (for a hit
 * from the shared directory or Redis) through the write queue when the budget allows. */
static void promote(kvs_cache *cache, uint32_t from_tier, kvs_chunk *chunk)
{
    kvs_status st;
    if (cache->mem)
        cache->mem->methods->put(cache->mem, &chunk, 1, &st);
    if (cache->local_disk >= 0 && from_tier > (uint32_t)cache->local_disk &&
        kvs_cache_write_reserve(cache, chunk->total_size))
        kvs_cache_write_submit(cache, &cache->tiers[cache->local_disk], 1, &chunk, NULL, 1,
                               NULL);
}

/* A hit the gds tier read straight into GPU memory is promoted too, through one host copy
 * (copy_to_host): the next request for the prefix — often another user's, with the same
 * system prompt — then loads from host RAM instead of storage, and the local disk keeps it
 * across restarts. The waiting requests are served before the copy is made, so they do not
 * wait for it; the flight stays open until the copy is in memory, so a get that comes
 * meanwhile joins it instead of reading storage again. When the cache has neither memory
 * nor a local disk, no copy is made. Takes over the reference to chunk. */
static void land_device_hit(kvs_cache *cache, flight *f, uint32_t from_tier, kvs_chunk *chunk)
{
    serve_early(cache, f, chunk, (int)from_tier);
    bool to_disk = cache->local_disk >= 0 && from_tier > (uint32_t)cache->local_disk;
    kvs_chunk *host;
    if ((cache->mem || to_disk) && kvs_object_host_copy(chunk, &host, NULL) == KVS_OK) {
        promote(cache, from_tier, host);
        kvs_chunk_release(host);
    }
    land(cache, f, chunk, KVS_OK, (int)from_tier);
}

/* A miss is NOT_FOUND unless some tier found something worse (corrupt, I/O error). */
static kvs_status worse(kvs_status have, kvs_status got)
{
    return have == KVS_ERR_NOT_FOUND ? got : have;
}

static void load_job_run(kvs_job *job)
{
    load_job *lj = (load_job *)job;
    kvs_cache *cache = lj->cache;
    size_t left = lj->n;
    kvs_chunk_request *reqs = malloc(left * sizeof *reqs);
    kvs_chunk **out = malloc(left * sizeof *out);
    kvs_status *st = malloc(left * sizeof *st);
    kvs_status *why = malloc(left * sizeof *why);
    if (!reqs || !out || !st || !why) {
        for (size_t i = 0; i < left; i++)
            land(cache, lj->flights[i], NULL, KVS_ERR_NOMEM, -1);
        left = 0;
    }
    for (size_t i = 0; i < left; i++)
        why[i] = KVS_ERR_NOT_FOUND;
    for (uint32_t t = cache->first_slow; t < cache->n_tiers && left > 0; t++) {
        kvs_tier *tier = cache->tiers[t];
        for (size_t i = 0; i < left; i++)
            reqs[i] = lj->flights[i]->req;
        tier->methods->get(tier, &lj->ns, reqs, left, out, st);
        /* Hits land; misses move to the front for the next tier. */
        size_t still = 0;
        for (size_t i = 0; i < left; i++) {
            if (st[i] == KVS_OK && out[i] && out[i]->external) {
                land_device_hit(cache, lj->flights[i], t, out[i]);
            } else if (st[i] == KVS_OK && out[i]) {
                promote(cache, t, out[i]);
                land(cache, lj->flights[i], out[i], KVS_OK, (int)t);
            } else {
                lj->flights[still] = lj->flights[i];
                why[still++] = worse(why[i], st[i] == KVS_OK ? KVS_ERR_NOT_FOUND : st[i]);
            }
        }
        left = still;
    }
    for (size_t i = 0; i < left; i++)
        land(cache, lj->flights[i], NULL, why[i], -1);
    free(reqs);
    free(out);
    free(st);
    free(why);
    free(lj->flights);
    free(lj);
}

static void load_job_cancel(kvs_job *job)
{
    load_job *lj = (load_job *)job;
    for (size_t i = 0; i < lj->n; i++)
        land(lj->cache, lj->flights[i], NULL, KVS_ERR_CLOSED, -1);
    free(lj->flights);
    free(lj);
}

typedef enum boarding { LEADS, JOINED, IN_MEMORY, NO_MEMORY } boarding;

/* Joins or starts the flight for item i of batch (called with flight_lock held). Before
 * starting one it asks memory again: a flight that landed since the first look has put
 * its chunk there, and loading it a second time is what single-flight is for. */
static boarding board(kvs_cache *cache, const kvs_key *ns, kvs_batch *batch, size_t i,
                      flight **out, kvs_chunk **found)
{
    flight *f = (flight *)kvs_keymap_find(&cache->flights, ns, &batch->reqs[i].key);
    /* contains_prefix first: the miss was counted at the first look already. */
    if (!f && cache->mem &&
        cache->mem->methods->contains_prefix(cache->mem, ns, &batch->reqs[i].key, 1) == 1) {
        kvs_status st;
        cache->mem->methods->get(cache->mem, ns, &batch->reqs[i], 1, found, &st);
        if (st == KVS_OK)
            return IN_MEMORY;
    }
    waiter *w = malloc(sizeof *w);
    bool joined = f != NULL;
    if (!w || (!f && !(f = calloc(1, sizeof *f)))) {
        free(w);
        return NO_MEMORY;
    }
    w->batch = kvs_batch_ref(batch);
    w->index = i;
    w->next = f->waiters;
    f->waiters = w;
    if (joined)
        return JOINED;
    f->node.ns = *ns;
    f->node.key = batch->reqs[i].key;
    f->req = batch->reqs[i];
    kvs_keymap_insert(&cache->flights, &f->node);
    *out = f;
    return LEADS;
}

/* Items settled without a load: found in memory at the second look, or out of memory. */
typedef struct settled {
    size_t index;
    kvs_chunk *chunk;
} settled;

/* Starts the loads of items idx[0..k) of batch (all missed in memory). */
static void load_misses(kvs_cache *cache, const kvs_key *ns, kvs_batch *batch,
                        const size_t *idx, size_t k)
{
    load_job *lj = calloc(1, sizeof *lj);
    flight **leads = malloc(k * sizeof *leads);
    settled *now = malloc(k * sizeof *now);
    if (!lj || !leads || !now) {
        free(lj);
        free(leads);
        free(now);
        for (size_t j = 0; j < k; j++)
            kvs_batch_set_item(batch, idx[j], NULL, KVS_ERR_NOMEM, -1);
        return;
    }
    size_t n_leads = 0, n_joins = 0, n_now = 0;
    pthread_mutex_lock(&cache->flight_lock);
    for (size_t j = 0; j < k; j++) {
        kvs_chunk *found = NULL;
        switch (board(cache, ns, batch, idx[j], &leads[n_leads], &found)) {
        case LEADS: n_leads++; break;
        case JOINED: n_joins++; break;
        case IN_MEMORY:
        case NO_MEMORY: now[n_now++] = (settled){idx[j], found}; break;
        }
    }
    pthread_mutex_unlock(&cache->flight_lock);
    atomic_fetch_add(&cache->single_flight_joins, n_joins);
    for (size_t j = 0; j < n_now; j++)
        kvs_batch_set_item(batch, now[j].index, now[j].chunk,
                           now[j].chunk ? KVS_OK : KVS_ERR_NOMEM, 0); /* memory: tiers[0] */
    free(now);
    if (n_leads == 0) {
        free(leads);
        free(lj);
        return;
    }
    lj->job.run = load_job_run;
    lj->job.cancel = load_job_cancel;
    lj->cache = cache;
    lj->ns = *ns;
    lj->n = n_leads;
    lj->flights = leads;
    kvs_io_pool_submit(&cache->pool, &lj->job, KVS_JOB_READ);
}

kvs_status kvs_get_async(kvs_cache *cache, const kvs_key *ns, const kvs_chunk_request *reqs,
                         size_t n, kvs_batch **out, kvs_error *err)
{
    if (!out)
        return kvs_fail(err, KVS_ERR_INVALID, "get: NULL batch pointer");
    *out = NULL;
    if (!cache || !ns || (n > 0 && !reqs))
        return kvs_fail(err, KVS_ERR_INVALID, "get: NULL argument");
    kvs_batch *batch = kvs_batch_new_get(reqs, n);
    size_t *miss = malloc((n ? n : 1) * sizeof *miss);
    kvs_chunk **got = malloc((n ? n : 1) * sizeof *got);
    kvs_status *st = malloc((n ? n : 1) * sizeof *st);
    if (!batch || !miss || !got || !st) {
        if (batch)
            kvs_batch_unref(batch);
        free(miss);
        free(got);
        free(st);
        return kvs_fail(err, KVS_ERR_NOMEM, "get of %zu chunks: out of memory", n);
    }
    atomic_fetch_add(&cache->gets, n);
    size_t n_miss = 0;
    if (cache->mem && n > 0) {
        cache->mem->methods->get(cache->mem, ns, batch->reqs, n, got, st);
        for (size_t i = 0; i < n; i++) {
            if (st[i] == KVS_ERR_NOT_FOUND)
                miss[n_miss++] = i;
            else
                kvs_batch_set_item(batch, i, got[i], st[i], 0); /* memory: tiers[0] */
        }
    } else {
        for (size_t i = 0; i < n; i++)
            miss[n_miss++] = i;
    }
    if (n_miss > 0 && cache->first_slow < cache->n_tiers)
        load_misses(cache, ns, batch, miss, n_miss);
    else
        for (size_t j = 0; j < n_miss; j++)
            kvs_batch_set_item(batch, miss[j], NULL, KVS_ERR_NOT_FOUND, -1);
    free(miss);
    free(got);
    free(st);
    kvs_batch_release_hold(batch);
    *out = batch;
    return KVS_OK;
}
