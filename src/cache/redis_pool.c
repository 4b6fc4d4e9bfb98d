#include "cache/redis_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cache/deadline.h"
#include "cache/error.h"

#define BACKOFF_INITIAL_MS 100u
#define BACKOFF_MAX_MS 2000u

typedef struct pool_slot {
    redisContext *ctx; /* NULL when closed */
    uint64_t epoch;
} pool_slot;

struct kvs_redis_pool {
    kvs_redis_target target;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    uint32_t size;
    pool_slot *slots;
    uint32_t *free_slots; /* stack of free slot indices */
    uint32_t n_free;
    uint64_t epoch;       /* failures so far; connections from an older epoch are stale */
    bool down;            /* in backoff, or probing */
    bool probing;         /* one caller is reconnecting */
    uint32_t backoff_ms;
    uint64_t retry_at_ns; /* CLOCK_MONOTONIC */
    uint64_t reconnects;
    char failure[KVS_ERROR_MSG_MAX]; /* why the pool went down */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Called with the lock held. A failure of a connection from the current epoch is news:
 * every connection is now stale and the pool backs off for the initial delay; a failed
 * probe doubles the delay. A failure of an already stale connection changes nothing. */
static void note_failure(kvs_redis_pool *p, uint64_t epoch, bool probe, const kvs_error *why)
{
    if (probe) {
        p->probing = false;
        p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
    } else if (epoch == p->epoch && !p->down) {
        p->down = true;
        p->backoff_ms = BACKOFF_INITIAL_MS;
    } else {
        return;
    }
    p->epoch++;
    p->retry_at_ns = now_ns() + (uint64_t)p->backoff_ms * 1000000u;
    snprintf(p->failure, sizeof p->failure, "%s", why->msg);
}

kvs_status kvs_redis_pool_open(const kvs_redis_target *target, uint32_t size,
                               kvs_redis_pool **out, kvs_error *err)
{
    *out = NULL;
    kvs_redis_pool *p = calloc(1, sizeof *p);
    if (!p)
        return kvs_fail(err, KVS_ERR_NOMEM, "%s: connection pool: out of memory",
                        target->url.display);
    int rc = kvs_cond_init_monotonic(&p->freed);
    if (rc != 0) {
        free(p);
        return kvs_fail_errno(err, rc, "%s: connection pool: create its condition",
                              target->url.display);
    }
    pthread_mutex_init(&p->lock, NULL);
    p->target = *target;
    p->size = size;
    p->slots = calloc(size, sizeof *p->slots);
    p->free_slots = calloc(size, sizeof *p->free_slots);
    if (!p->slots || !p->free_slots) {
        kvs_redis_pool_close(p);
        return kvs_fail(err, KVS_ERR_NOMEM, "%s: connection pool: out of memory",
                        target->url.display);
    }
    for (uint32_t i = 0; i < size; i++) {
        kvs_status s = kvs_redis_connect(target, &p->slots[i].ctx, err);
        if (s != KVS_OK) {
            kvs_redis_pool_close(p);
            return s;
        }
        p->free_slots[p->n_free++] = i;
    }
    *out = p;
    return KVS_OK;
}

/* Called with the lock held: waits for a free slot, failing fast while backing off. */
static kvs_status take_slot(kvs_redis_pool *p, uint32_t *slot, kvs_error *err)
{
    struct timespec deadline = kvs_deadline_after_ms(p->target.command_timeout_ms);
    for (;;) {
        if (p->down) {
            uint64_t now = now_ns();
            if (p->probing || now < p->retry_at_ns)
                return kvs_fail(err, KVS_ERR_REMOTE, "%s: not tried, backing off after: %.400s",
                                p->target.url.display, p->failure);
        }
        if (p->n_free > 0) {
            *slot = p->free_slots[--p->n_free];
            return KVS_OK;
        }
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT)
            return kvs_fail(err, KVS_ERR_TIMEOUT, "%s: all %u connections stayed busy for %u ms",
                            p->target.url.display, p->size, p->target.command_timeout_ms);
    }
}

static void put_slot(kvs_redis_pool *p, uint32_t slot)
{
    p->free_slots[p->n_free++] = slot;
    pthread_cond_signal(&p->freed);
}

kvs_status kvs_redis_pool_acquire(kvs_redis_pool *p, kvs_redis_lease *lease, kvs_error *err)
{
    pthread_mutex_lock(&p->lock);
    uint32_t slot = 0;
    kvs_status s = take_slot(p, &slot, err);
    if (s != KVS_OK) {
        pthread_mutex_unlock(&p->lock);
        return s;
    }
    bool probe = p->down;
    if (probe)
        p->probing = true;
    uint64_t epoch = p->epoch;
    pool_slot *ps = &p->slots[slot];
    redisContext *stale = NULL;
    if (ps->ctx && ps->epoch != epoch) {
        stale = ps->ctx;
        ps->ctx = NULL;
    }
    redisContext *ctx = ps->ctx;
    pthread_mutex_unlock(&p->lock);

    if (stale)
        redisFree(stale);
    bool connected = false;
    if (!ctx) {
        s = kvs_redis_connect(&p->target, &ctx, err);
        connected = s == KVS_OK;
    }
    if (s != KVS_OK || connected || probe) {
        pthread_mutex_lock(&p->lock);
        if (s != KVS_OK) {
            note_failure(p, epoch, probe, err);
            put_slot(p, slot);
            pthread_mutex_unlock(&p->lock);
            return s;
        }
        if (connected) {
            ps->ctx = ctx;
            ps->epoch = epoch;
            p->reconnects++;
        }
        if (probe) {
            p->probing = false;
            p->down = epoch != p->epoch; /* still down if something failed meanwhile */
        }
        pthread_mutex_unlock(&p->lock);
    }
    lease->ctx = ctx;
    lease->slot = slot;
    lease->epoch = epoch;
    return KVS_OK;
}

void kvs_redis_pool_release(kvs_redis_pool *p, kvs_redis_lease *lease, const kvs_error *failure)
{
    if (failure)
        redisFree(lease->ctx);
    pthread_mutex_lock(&p->lock);
    if (failure) {
        p->slots[lease->slot].ctx = NULL;
        note_failure(p, lease->epoch, false, failure);
    }
    put_slot(p, lease->slot);
    pthread_mutex_unlock(&p->lock);
    lease->ctx = NULL;
}

uint64_t kvs_redis_pool_reconnects(kvs_redis_pool *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t n = p->reconnects;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void kvs_redis_pool_close(kvs_redis_pool *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; p->slots && i < p->size; i++)
        if (p->slots[i].ctx)
            redisFree(p->slots[i].ctx);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->slots);
    free(p->free_slots);
    free(p);
}
