#include "cache/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/deadline.h"

static kvs_batch *batch_alloc(size_t n, bool is_get)
{
    kvs_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->n = n;
    b->is_get = is_get;
    b->status = calloc(n ? n : 1, sizeof *b->status);
    if (is_get) {
        b->chunks = calloc(n ? n : 1, sizeof *b->chunks);
        b->tier = malloc(n ? n : 1);
        if (b->tier)
            memset(b->tier, -1, n);
    } else {
        b->stored = calloc(n ? n : 1, sizeof *b->stored);
    }
    if (!b->status || (is_get ? !b->chunks || !b->tier : !b->stored) ||
        kvs_cond_init_monotonic(&b->cond) != 0) {
        free(b->status);
        free(b->chunks);
        free(b->tier);
        free(b->stored);
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    pthread_mutex_init(&b->lock, NULL);
    b->pending = 1;
    return b;
}

kvs_batch *kvs_batch_new_get(const kvs_chunk_request *reqs, size_t n)
{
    size_t n_tokens = 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i].tokens)
            n_tokens += reqs[i].n_tokens;
    kvs_batch *b = batch_alloc(n, true);
    if (!b)
        return NULL;
    b->reqs = malloc((n ? n : 1) * sizeof *b->reqs);
    b->tokens = malloc((n_tokens ? n_tokens : 1) * sizeof *b->tokens);
    if (!b->reqs || !b->tokens) {
        kvs_batch_unref(b);
        return NULL;
    }
    int32_t *t = b->tokens;
    for (size_t i = 0; i < n; i++) {
        b->reqs[i] = reqs[i];
        b->status[i] = KVS_ERR_NOT_FOUND;
        if (reqs[i].tokens) {
            memcpy(t, reqs[i].tokens, reqs[i].n_tokens * sizeof *t);
            b->reqs[i].tokens = t;
            t += reqs[i].n_tokens;
        }
    }
    b->pending += n;
    return b;
}

kvs_batch *kvs_batch_new_put(size_t n)
{
    return batch_alloc(n, false);
}

kvs_batch *kvs_batch_ref(kvs_batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void kvs_batch_unref(kvs_batch *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->chunks)
        for (size_t i = 0; i < b->n; i++)
            kvs_chunk_release(b->chunks[i]);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b->status);
    free(b->chunks);
    free(b->tier);
    free(b->stored);
    free(b->reqs);
    free(b->tokens);
    free(b);
}

/* With the lock held: k pending results less; the last one finalizes the batch. */
static void settle(kvs_batch *b, size_t k)
{
    b->pending -= k;
    if (b->pending > 0)
        return;
    if (b->is_get) {
        size_t i = 0;
        while (i < b->n && b->status[i] == KVS_OK)
            i++;
        b->loaded = i;
        /* A load stops at the first chunk that failed: the caller gets a prefix. */
        for (; i < b->n; i++) {
            kvs_chunk_release(b->chunks[i]);
            b->chunks[i] = NULL;
        }
    } else {
        size_t stored = 0;
        for (size_t i = 0; i < b->n; i++)
            stored += b->stored[i];
        b->loaded = stored;
    }
    b->done = true;
    pthread_cond_broadcast(&b->cond);
}

void kvs_batch_hold(kvs_batch *b, size_t k)
{
    pthread_mutex_lock(&b->lock);
    b->pending += k;
    pthread_mutex_unlock(&b->lock);
}

void kvs_batch_release_hold(kvs_batch *b)
{
    pthread_mutex_lock(&b->lock);
    settle(b, 1);
    pthread_mutex_unlock(&b->lock);
}

void kvs_batch_set_item(kvs_batch *b, size_t i, kvs_chunk *chunk, kvs_status st, int tier)
{
    pthread_mutex_lock(&b->lock);
    b->chunks[i] = chunk;
    b->status[i] = st;
    b->tier[i] = (int8_t)(chunk ? tier : -1);
    settle(b, 1);
    pthread_mutex_unlock(&b->lock);
}

/* A put item's status is KVS_OK only when every tier it was sent to stored it; otherwise
 * the first failure. `stored` says whether any tier has it. */
static void merge_locked(kvs_batch *b, const size_t *idx, const kvs_status *st, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        size_t i = idx ? idx[j] : j;
        if (st[j] == KVS_OK)
            b->stored[i] = true;
        else if (b->status[i] == KVS_OK)
            b->status[i] = st[j];
    }
}

void kvs_batch_merge_put(kvs_batch *b, const size_t *idx, const kvs_status *st, size_t k)
{
    pthread_mutex_lock(&b->lock);
    merge_locked(b, idx, st, k);
    pthread_mutex_unlock(&b->lock);
}

void kvs_batch_finish_put_job(kvs_batch *b, const size_t *idx, const kvs_status *st, size_t k)
{
    pthread_mutex_lock(&b->lock);
    merge_locked(b, idx, st, k);
    settle(b, 1);
    pthread_mutex_unlock(&b->lock);
}

void kvs_batch_set_put_status(kvs_batch *b, size_t i, kvs_status st)
{
    pthread_mutex_lock(&b->lock);
    b->status[i] = st;
    pthread_mutex_unlock(&b->lock);
}

/* ---- The public API ----------------------------------------------------------------- */

kvs_status kvs_batch_wait(kvs_batch *b, int timeout_ms)
{
    struct timespec deadline = kvs_deadline_after_ms(timeout_ms);
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&b->lock);
    while (!b->done) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&b->cond, &b->lock);
        } else if (timeout_ms == 0 ||
                   pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT) {
            st = b->done ? KVS_OK : KVS_ERR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return st;
}

bool kvs_batch_done(const kvs_batch *batch)
{
    kvs_batch *b = (kvs_batch *)batch; /* the lock is not part of the value */
    pthread_mutex_lock(&b->lock);
    bool done = b->done;
    pthread_mutex_unlock(&b->lock);
    return done;
}

size_t kvs_batch_count(const kvs_batch *batch)
{
    return batch->n;
}

size_t kvs_batch_loaded(const kvs_batch *batch)
{
    return kvs_batch_done(batch) ? batch->loaded : 0;
}

kvs_chunk *kvs_batch_chunk(const kvs_batch *batch, size_t i)
{
    if (!batch->is_get || i >= kvs_batch_loaded(batch))
        return NULL;
    return batch->chunks[i];
}

kvs_status kvs_batch_item_status(const kvs_batch *batch, size_t i)
{
    if (i >= batch->n)
        return KVS_ERR_INVALID;
    kvs_batch *b = (kvs_batch *)batch;
    pthread_mutex_lock(&b->lock);
    kvs_status st = b->status[i];
    pthread_mutex_unlock(&b->lock);
    return st;
}

int kvs_batch_item_tier(const kvs_batch *batch, size_t i)
{
    if (!batch->is_get || i >= kvs_batch_loaded(batch))
        return -1;
    return batch->tier[i];
}

void kvs_batch_free(kvs_batch *batch)
{
    if (!batch)
        return;
    kvs_batch_wait(batch, -1);
    kvs_batch_unref(batch);
}
