/* The connector's work in flight: load batches it is done with (freed once nothing reads
 * them), gathers whose transfers are still running (put once they are done) and stores the
 * cache is writing (counted and timed when they finish). With the CPU backend every fence
 * is done when it is returned, so nothing waits here for a transfer. */
#include <stdlib.h>
#include <string.h>

#include "engine/connector_internal.h"
#include "engine/histogram.h"

#define FLUSH_TIMEOUT_MS 30000

/* v grown (realloc) to room for one element past n, *cap updated; NULL when out of
 * memory (v is then unchanged). */
static void *room_for_one(void *v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return v;
    size_t grown = *cap ? 2 * *cap : 16;
    void *g = realloc(v, grown * elem);
    if (g)
        *cap = grown;
    return g;
}

/* False when out of memory. */
static bool pending_add(pending_list *l, pending p)
{
    pending *v = room_for_one(l->v, &l->cap, l->n, sizeof *l->v);
    if (!v)
        return false;
    l->v = v;
    l->v[l->n++] = p;
    return true;
}

static bool pending_done(const connector *c, const pending *p)
{
    return kvs_batch_done(p->batch) && (!p->fenced || c->be->ops->done(c->be, p->fence));
}

/* Frees p's batch after waiting for it and its transfers. A failed wait leaves the
 * transfers' state unknown: the batch is kept (leaked) rather than freed under them. */
static void pending_free_now(connector *c, const pending *p)
{
    model_error err;
    if (p->fenced && c->be->ops->wait(c->be, p->fence, &err) != 0)
        return;
    kvs_batch_free(p->batch);
}

/* Keeps p in l until it is done (freed at once when it is, or when l cannot grow). */
static void pending_keep(connector *c, pending_list *l, pending p)
{
    if (pending_done(c, &p) || !pending_add(l, p))
        pending_free_now(c, &p);
}

static void pending_free_all(connector *c, pending_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        pending_free_now(c, &l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void inflight_drop_load(connector *c, pending p) { pending_keep(c, &c->orphans, p); }

/* Hands chunks to the cache (which takes them over); failures and drops are the cache's
 * to count, and inference goes on either way. */
static void put_chunks(connector *c, kvs_chunk **chunks, uint32_t n, double t0)
{
    kvs_batch *b = NULL;
    kvs_error kerr;
    if (kvs_put_async(c->cache, chunks, n, &b, &kerr) == KVS_OK &&
        !pending_add(&c->puts, (pending){b, t0, false, 0}))
        kvs_batch_free(b);
}

static void release_chunks(kvs_chunk **chunks, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        kvs_chunk_release(chunks[i]);
}

/* Whether g's gather is over (waiting for it with wait): its chunks are then put and its
 * blocks let go or, when the wait failed, the chunks are released unstored (their contents
 * are unknown) and the blocks stay held, as the copies' state is unknown too. */
static bool gathering_finish(connector *c, gathering *g, bool wait)
{
    model_error err;
    if (!wait && !c->be->ops->done(c->be, g->fence))
        return false;
    if (wait && c->be->ops->wait(c->be, g->fence, &err) != 0) {
        release_chunks(g->chunks, g->n);
    } else {
        put_chunks(c, g->chunks, g->n, g->t0);
        for (uint32_t i = 0; i < g->n_blocks; i++)
            kv_paged_unref(c->kv, g->blocks[i]);
    }
    free(g->blocks);
    free(g->chunks);
    return true;
}

void inflight_store(connector *c, gathering g)
{
    if (gathering_finish(c, &g, false))
        return;
    gathering *v = room_for_one(c->gathers.v, &c->gathers.cap, c->gathers.n, sizeof *v);
    if (!v) {
        gathering_finish(c, &g, true);
        return;
    }
    c->gathers.v = v;
    c->gathers.v[c->gathers.n++] = g;
}

/* Puts every gather that is done (all of them, waiting, with wait). */
static void gathers_finish(connector *c, bool wait)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->gathers.n; i++)
        if (!gathering_finish(c, &c->gathers.v[i], wait))
            c->gathers.v[kept++] = c->gathers.v[i];
    c->gathers.n = kept;
}

static void reap(connector *c, pending_list *l, bool stores)
{
    size_t kept = 0;
    double now = connector_now();
    for (size_t i = 0; i < l->n; i++) {
        kvs_batch *b = l->v[i].batch;
        if (!pending_done(c, &l->v[i])) {
            l->v[kept++] = l->v[i];
            continue;
        }
        if (stores) {
            pthread_mutex_lock(&c->mu);
            c->stored_chunks += kvs_batch_loaded(b);
            histogram_observe(&c->h_store, now - l->v[i].t0);
            pthread_mutex_unlock(&c->mu);
        }
        kvs_batch_free(b);
    }
    l->n = kept;
}

void inflight_tick(connector *c)
{
    gathers_finish(c, false);
    reap(c, &c->puts, true);
    reap(c, &c->orphans, false);
}

void inflight_drain(connector *c)
{
    gathers_finish(c, true);
    free(c->gathers.v);
    kvs_error kerr;
    (void)kvs_cache_flush(c->cache, FLUSH_TIMEOUT_MS, &kerr); /* best effort at shutdown */
    pending_free_all(c, &c->puts);
    pending_free_all(c, &c->orphans);
}
