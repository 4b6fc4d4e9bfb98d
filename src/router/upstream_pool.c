/* The per-backend pool of idle keep-alive connections. */
#include "router/upstream_pool.h"

#include <stdlib.h>
#include <string.h>

int upstream_pool_init(upstream_pool *p, unsigned max_idle, int idle_ms, model_error *err)
{
    memset(p, 0, sizeof *p);
    if (max_idle && !(p->idle = calloc(max_idle, sizeof *p->idle)))
        return model_fail(err, "router: out of memory for a connection pool");
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc) {
        free(p->idle);
        return model_fail(err, "router: cannot make a connection pool's lock: %s",
                          strerror(rc));
    }
    p->max = max_idle;
    p->idle_ms = idle_ms;
    p->open = true;
    atomic_init(&p->connects, 0);
    atomic_init(&p->reuses, 0);
    atomic_init(&p->stale_retries, 0);
    return 0;
}

/* Closes conns[0, n) (taken out of the pool under its lock, closed outside it). */
static void close_all(upstream_idle *conns, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        upstream_close(conns[i].c);
}

void upstream_pool_destroy(upstream_pool *p)
{
    close_all(p->idle, p->n);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
}

/* Takes the idle connections out of the pool, all of them or those older than idle_ms,
 * and closes them. */
static void take_out(upstream_pool *p, bool all)
{
    upstream_idle gone[64];
    unsigned n;
    if (!p->max)
        return;
    do {
        pthread_mutex_lock(&p->mu);
        int64_t now = upstream_now_ms();
        n = 0;
        while (n < p->n && n < sizeof gone / sizeof gone[0] &&
               (all || now - p->idle[n].since_ms > p->idle_ms))
            n++;
        memcpy(gone, p->idle, n * sizeof *gone);
        memmove(p->idle, p->idle + n, (p->n - n) * sizeof *p->idle);
        p->n -= n;
        pthread_mutex_unlock(&p->mu);
        close_all(gone, n);
    } while (n == sizeof gone / sizeof gone[0]);
}

/* The most recent idle connection that is still open, or NULL. */
static upstream_conn *take(upstream_pool *p)
{
    for (;;) {
        upstream_idle got = {0};
        pthread_mutex_lock(&p->mu);
        if (p->n)
            got = p->idle[--p->n];
        pthread_mutex_unlock(&p->mu);
        if (!got.c)
            return NULL;
        if (upstream_now_ms() - got.since_ms > p->idle_ms) {
            upstream_close(got.c);
            take_out(p, false); /* the youngest was too old: so is every one below it */
            return NULL;
        }
        if (upstream_idle_open(got.c))
            return got.c;
        upstream_close(got.c); /* closed by the peer while idle */
    }
}

int upstream_pool_open(upstream_pool *p, const char *host, uint16_t port,
                       const upstream_request *rq, upstream_conn **out, upstream_stage *stage,
                       model_error *err)
{
    upstream_conn *c = take(p);
    if (c) {
        model_error e;
        if (upstream_send(c, host, port, rq, true, stage, &e) == 0) {
            atomic_fetch_add(&p->reuses, 1);
            *out = c;
            return 0;
        }
        bool stale = upstream_peer_closed(c);
        upstream_close(c);
        if (!stale)
            return model_fail(err, "%s", e.msg);
        atomic_fetch_add(&p->stale_retries, 1);
    }
    *stage = UPSTREAM_CONNECT;
    if (upstream_connect(host, port, rq->connect_timeout_ms, &c, err))
        return -1;
    atomic_fetch_add(&p->connects, 1);
    if (upstream_send(c, host, port, rq, p->max > 0, stage, err)) {
        upstream_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void upstream_pool_put(upstream_pool *p, upstream_conn *c)
{
    if (upstream_reusable(c)) {
        pthread_mutex_lock(&p->mu);
        bool kept = p->open && p->n < p->max;
        if (kept)
            p->idle[p->n++] = (upstream_idle){c, upstream_now_ms()};
        pthread_mutex_unlock(&p->mu);
        if (kept)
            return;
    }
    upstream_close(c);
}

unsigned upstream_pool_idle(upstream_pool *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void upstream_pool_expire(upstream_pool *p)
{
    take_out(p, false);
}

void upstream_pool_close(upstream_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->open = false;
    pthread_mutex_unlock(&p->mu);
    take_out(p, true);
}

void upstream_pool_reopen(upstream_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->open = true;
    pthread_mutex_unlock(&p->mu);
}
