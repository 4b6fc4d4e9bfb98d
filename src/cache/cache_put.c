/* kvs_put_async: seal, store in memory at once, queue the slow tiers within the budget. */
#include <stdlib.h>

#include "cache/batch.h"
#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/object.h"

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
    for (size_t i = 0; i < n; i++) {
        if (!chunks[i]) {
            kvs_batch_set_put_status(batch, i, KVS_ERR_INVALID);
            continue;
        }
        kvs_object_seal(chunks[i]);
        valid[k] = chunks[i];
        idx[k++] = i;
    }
    if (cache->mem && k > 0) {
        cache->mem->methods->put(cache->mem, valid, k, status);
        kvs_batch_merge_put(batch, idx, status, k);
    }

    /* The slow tiers get what fits in the write budget; the rest is dropped, not waited
     * for. The chunks that fit move to the front of valid/idx. */
    size_t n_slow = cache->n_tiers - cache->first_slow;
    if (n_slow > 0) {
        size_t queued = 0;
        for (size_t j = 0; j < k; j++) {
            if (kvs_cache_write_reserve(cache, valid[j]->total_size)) {
                valid[queued] = valid[j];
                idx[queued++] = idx[j];
            } else {
                kvs_batch_set_put_status(batch, idx[j], KVS_ERR_DROPPED);
                atomic_fetch_add(&cache->dropped_puts, 1);
            }
        }
        if (queued > 0)
            kvs_cache_write_submit(cache, cache->tiers + cache->first_slow, n_slow, valid, idx,
                                   queued, batch);
    }
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
