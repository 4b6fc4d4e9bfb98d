/* kvs_put_async: seal, store in memory at once, queue the slow tiers within the budget.
 *
 * A device chunk (its payload in a tier's device memory) goes as it is to the tiers that take
 * device chunks (tier.h, kvs_tier_device_methods: the gds tier when it writes with cuFile).
 * Every other tier keeps host bytes, so those get one host copy of the chunk, made here
 * (kvs_object_host_copy, into page-locked memory) and only when such a tier is enabled; the
 * device chunk never sits in a tier, and its staging slot is free again once its write is done
 * and the caller has released it. */
#include <stdlib.h>

#include "cache/batch.h"
#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/kvs_admin.h"
#include "cache/object.h"

/* Items idx[0..k) failed with st in a tier (or before reaching one). */
static void fail_items(kvs_batch *batch, const size_t *idx, size_t k, kvs_status st)
{
    for (size_t j = 0; j < k; j++)
        kvs_batch_merge_put(batch, &idx[j], &st, 1);
}

/* Room for k chunks and their batch items; false, with the items failed, when there is
 * none. */
static bool alloc_items(kvs_batch *batch, const size_t *idx, size_t k, kvs_chunk ***chunks,
                        size_t **items)
{
    *chunks = malloc(k * sizeof **chunks);
    *items = malloc(k * sizeof **items);
    if (*chunks && *items)
        return true;
    fail_items(batch, idx, k, KVS_ERR_NOMEM);
    free(*chunks);
    free(*items);
    return false;
}

/* Queues chunks[0..k) (batch items idx) for tiers[0..n) with what fits in the write budget;
 * the rest is dropped, not waited for. */
static void queue_slow(kvs_cache *cache, kvs_tier *const *tiers, size_t n,
                       kvs_chunk *const *chunks, const size_t *idx, size_t k, kvs_batch *batch)
{
    if (n == 0 || k == 0)
        return;
    kvs_chunk **fit;
    size_t *fit_idx;
    if (!alloc_items(batch, idx, k, &fit, &fit_idx))
        return;
    size_t queued = 0;
    for (size_t j = 0; j < k; j++) {
        if (kvs_cache_write_reserve(cache, chunks[j]->total_size)) {
            fit[queued] = chunks[j];
            fit_idx[queued++] = idx[j];
        } else {
            kvs_batch_set_put_status(batch, idx[j], KVS_ERR_DROPPED);
            atomic_fetch_add(&cache->dropped_puts, 1);
        }
    }
    if (queued > 0)
        kvs_cache_write_submit(cache, tiers, n, fit, fit_idx, queued, batch);
    free(fit);
    free(fit_idx);
}

/* Stores host chunks[0..k) in memory, when the cache has it, and queues them for tiers. */
static void store_host(kvs_cache *cache, kvs_tier *const *tiers, size_t n,
                       kvs_chunk *const *chunks, const size_t *idx, size_t k,
                       kvs_batch *batch, kvs_status *status)
{
    if (cache->mem && k > 0) {
        cache->mem->methods->put(cache->mem, chunks, k, status);
        kvs_batch_merge_put(batch, idx, status, k);
    }
    queue_slow(cache, tiers, n, chunks, idx, k, batch);
}

/* A batch with device chunks: the chunks as they are to the tiers that take device chunks
 * (the gds tier writing with cuFile), host versions (host chunks themselves, copies of
 * device chunks) to memory and the other slow tiers. */
static void store_with_device(kvs_cache *cache, kvs_chunk *const *chunks, const size_t *idx,
                              size_t k, kvs_batch *batch, kvs_status *status)
{
    kvs_tier *device_tiers[KVS_MAX_TIERS], *host_tiers[KVS_MAX_TIERS];
    size_t n_device = 0, n_host = 0;
    for (uint32_t t = cache->first_slow; t < cache->n_tiers; t++) {
        kvs_tier *tier = cache->tiers[t];
        if (tier->device && tier->device->takes_chunks(tier))
            device_tiers[n_device++] = tier;
        else
            host_tiers[n_host++] = tier;
    }
    if (n_device > 0)
        queue_slow(cache, device_tiers, n_device, chunks, idx, k, batch);
    if (!cache->mem && n_host == 0)
        return;
    kvs_chunk **host;
    size_t *host_idx;
    if (!alloc_items(batch, idx, k, &host, &host_idx))
        return;
    size_t h = 0;
    for (size_t j = 0; j < k; j++) {
        kvs_status st = KVS_OK;
        if (chunks[j]->external)
            st = kvs_object_host_copy(chunks[j], &host[h], NULL);
        else
            host[h] = kvs_chunk_ref(chunks[j]);
        if (st != KVS_OK)
            fail_items(batch, &idx[j], 1, st);
        else
            host_idx[h++] = idx[j];
    }
    store_host(cache, host_tiers, n_host, host, host_idx, h, batch, status);
    for (size_t j = 0; j < h; j++)
        kvs_chunk_release(host[j]); /* the tiers and jobs hold their own references */
    free(host);
    free(host_idx);
}

kvs_status kvs_put_async(kvs_cache *cache, kvs_chunk *const *chunks, size_t n,
                         kvs_batch **out, kvs_error *err)
{
    if (out)
        *out = NULL;
    if (!cache || (n > 0 && !chunks)) {
        for (size_t i = 0; chunks && i < n; i++)
            kvs_chunk_release(chunks[i]);
        return kvs_fail(err, KVS_ERR_INVALID, "put: NULL argument");
    }
    kvs_batch *batch = kvs_batch_new_put(n);
    kvs_status *status = malloc((n ? n : 1) * sizeof *status);
    kvs_chunk **valid = malloc((n ? n : 1) * sizeof *valid);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!batch || !status || !valid || !idx) {
        if (batch)
            kvs_batch_unref(batch);
        free(status);
        free(valid);
        free(idx);
        for (size_t i = 0; i < n; i++)
            kvs_chunk_release(chunks[i]);
        return kvs_fail(err, KVS_ERR_NOMEM, "put of %zu chunks: out of memory", n);
    }
    atomic_fetch_add(&cache->puts, n);

    size_t k = 0;
    bool any_device = false;
    for (size_t i = 0; i < n; i++) {
        kvs_status st = chunks[i] ? kvs_chunk_seal(chunks[i], NULL) : KVS_ERR_INVALID;
        if (st != KVS_OK) {
            kvs_batch_set_put_status(batch, i, st);
            continue;
        }
        any_device |= chunks[i]->external != NULL;
        valid[k] = chunks[i];
        idx[k++] = i;
    }
    if (any_device)
        store_with_device(cache, valid, idx, k, batch, status);
    else
        store_host(cache, cache->tiers + cache->first_slow, cache->n_tiers - cache->first_slow,
                   valid, idx, k, batch, status);
    for (size_t i = 0; i < n; i++)
        kvs_chunk_release(chunks[i]); /* the tiers and jobs hold their own references */
    free(status);
    free(valid);
    free(idx);
    kvs_batch_release_hold(batch);
    if (out)
        *out = batch;
    else
        kvs_batch_unref(batch);
    return KVS_OK;
}
