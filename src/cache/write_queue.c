/* Write-through to the slow tiers from the I/O threads, within a byte budget: a put never
 * waits for storage, and memory held by queued chunks stays bounded (ARCHITECTURE.md §2). */
#include <stdlib.h>

#include "cache/batch.h"
#include "cache/cache_internal.h"
#include "cache/object.h"

/* One set of chunks shared by the write jobs of one put, one job per tier. */
typedef struct write_set {
    atomic_uint jobs_left;
    size_t n;
    uint64_t bytes;
    kvs_batch *batch;
    kvs_chunk **chunks;
    size_t *idx;
} write_set;

typedef struct write_job {
    kvs_job job;
    kvs_cache *cache;
    kvs_tier *tier;
    write_set *set;
} write_job;

bool kvs_cache_write_reserve(kvs_cache *cache, uint64_t bytes)
{
    pthread_mutex_lock(&cache->write_lock);
    bool fits = cache->write_queue_bytes + bytes <= cache->cfg.max_write_queue_size;
    if (fits)
        cache->write_queue_bytes += bytes;
    pthread_mutex_unlock(&cache->write_lock);
    return fits;
}

static void write_set_done(kvs_cache *cache, write_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        kvs_chunk_release(set->chunks[i]);
    if (set->batch)
        kvs_batch_unref(set->batch);
    pthread_mutex_lock(&cache->write_lock);
    cache->write_queue_bytes -= set->bytes;
    pthread_mutex_unlock(&cache->write_lock);
    free(set->chunks);
    free(set->idx);
    free(set);
}

/* Reports the job's results (NULL: reported already) and retires it, and the set with
 * its last job. */
static void write_job_finish(write_job *wj, const kvs_status *status)
{
    kvs_cache *cache = wj->cache;
    write_set *set = wj->set;
    if (set->batch)
        kvs_batch_finish_put_job(set->batch, set->idx, status, status ? set->n : 0);
    if (atomic_fetch_sub_explicit(&set->jobs_left, 1, memory_order_acq_rel) == 1)
        write_set_done(cache, set);
    free(wj);
    pthread_mutex_lock(&cache->write_lock);
    if (--cache->write_jobs == 0)
        pthread_cond_broadcast(&cache->write_idle);
    pthread_mutex_unlock(&cache->write_lock);
}

/* Marks items idx[0..k) of batch with st (no job will report them). */
static void refuse(kvs_batch *batch, const size_t *idx, size_t k, kvs_status st)
{
    for (size_t i = 0; i < k && batch; i++)
        kvs_batch_merge_put(batch, &idx[i], &st, 1);
}

static void write_job_run(kvs_job *job)
{
    write_job *wj = (write_job *)job;
    write_set *set = wj->set;
    kvs_status *status = malloc(set->n * sizeof *status);
    if (!status) {
        refuse(set->batch, set->idx, set->n, KVS_ERR_NOMEM);
        write_job_finish(wj, NULL);
        return;
    }
    wj->tier->methods->put(wj->tier, set->chunks, set->n, status);
    write_job_finish(wj, status);
    free(status);
}

static void write_job_cancel(kvs_job *job)
{
    write_job *wj = (write_job *)job;
    refuse(wj->set->batch, wj->set->idx, wj->set->n, KVS_ERR_CLOSED);
    write_job_finish(wj, NULL);
}

void kvs_cache_write_submit(kvs_cache *cache, kvs_tier *const *tiers, size_t n,
                            kvs_chunk *const *chunks, const size_t *idx, size_t k,
                            kvs_batch *batch)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < k; i++)
        bytes += chunks[i]->total_size;
    write_set *set = calloc(1, sizeof *set);
    write_job *jobs[KVS_MAX_TIERS] = {0};
    bool ok = set && n <= KVS_MAX_TIERS;
    if (ok) {
        set->chunks = malloc(k * sizeof *set->chunks);
        set->idx = malloc(k * sizeof *set->idx);
        ok = set->chunks && set->idx;
        for (size_t t = 0; ok && t < n; t++)
            ok = (jobs[t] = calloc(1, sizeof *jobs[t])) != NULL;
    }
    if (!ok) {
        refuse(batch, idx, k, KVS_ERR_NOMEM);
        for (size_t t = 0; t < n && t < KVS_MAX_TIERS; t++)
            free(jobs[t]);
        if (set) {
            free(set->chunks);
            free(set->idx);
            free(set);
        }
        pthread_mutex_lock(&cache->write_lock);
        cache->write_queue_bytes -= bytes;
        pthread_mutex_unlock(&cache->write_lock);
        return;
    }
    atomic_init(&set->jobs_left, (unsigned)n);
    set->n = k;
    set->bytes = bytes;
    set->batch = batch ? kvs_batch_ref(batch) : NULL;
    for (size_t i = 0; i < k; i++) {
        set->chunks[i] = kvs_chunk_ref(chunks[i]);
        set->idx[i] = idx ? idx[i] : i;
    }
    if (batch)
        kvs_batch_hold(batch, n);
    pthread_mutex_lock(&cache->write_lock);
    cache->write_jobs += n;
    pthread_mutex_unlock(&cache->write_lock);
    for (size_t t = 0; t < n; t++) {
        jobs[t]->job.run = write_job_run;
        jobs[t]->job.cancel = write_job_cancel;
        jobs[t]->cache = cache;
        jobs[t]->tier = tiers[t];
        jobs[t]->set = set;
        kvs_io_pool_submit(&cache->pool, &jobs[t]->job, KVS_JOB_WRITE);
    }
}
