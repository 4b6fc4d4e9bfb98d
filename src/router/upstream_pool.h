/* A bounded pool of idle HTTP/1.1 keep-alive connections to one backend, so that a proxied
 * request costs no TCP handshake (and the replica no accept) when a connection is free.
 *
 * A connection goes back only when its answer was read to the end of its framing and the
 * upstream did not say Connection: close (upstream_reusable). The pool is a stack: the
 * connection used last is used next, and the oldest, at the bottom, expire first, after
 * idle_ms — below serve's --connection-timeout (libmicrohttpd's idle timeout, 60 s), so
 * that the router, not the replica, closes them. A connection taken from the pool that the
 * peer has closed after all (its idle close racing the request) is retried once on a new
 * connection, which is no failure of the replica. A backend that leaves the set closes its
 * pool (upstream_pool_close) until it is healthy again.
 *
 * Locking: the router runs one thread per client connection (libmicrohttpd), and any of
 * them may take or give back a connection of any backend, so each pool has a mutex, held
 * only to push or pop; the sockets are probed and closed outside it. */
#ifndef KVSPILL_ROUTER_UPSTREAM_POOL_H
#define KVSPILL_ROUTER_UPSTREAM_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "router/upstream_client.h"

typedef struct upstream_idle {
    upstream_conn *c;
    int64_t since_ms; /* given back at (upstream_now_ms) */
} upstream_idle;

typedef struct upstream_pool {
    pthread_mutex_t mu;
    upstream_idle *idle; /* [0, n): the oldest first */
    unsigned n, max;     /* max 0: no pooling, one connection per request */
    int idle_ms;
    bool open;           /* takes connections back (not while the backend is out) */
    atomic_ulong connects;      /* new connections made for requests */
    atomic_ulong reuses;        /* requests sent on a pooled connection */
    atomic_ulong stale_retries; /* pooled ones the peer had closed: the request sent anew */
} upstream_pool;

int upstream_pool_init(upstream_pool *p, unsigned max_idle, int idle_ms,
                       model_error *err) MODEL_MUST_CHECK;
/* Closes the idle connections and frees the pool. */
void upstream_pool_destroy(upstream_pool *p);

/* upstream_open through the pool: sends rq on the pool's most recent idle connection that
 * is still open, else on a new one; a pooled connection the peer turns out to have closed
 * before the first byte of the answer is replaced by a new connection, once. Give the
 * connection back with upstream_pool_put. */
int upstream_pool_open(upstream_pool *p, const char *host, uint16_t port,
                       const upstream_request *rq, upstream_conn **out, upstream_stage *stage,
                       model_error *err) MODEL_MUST_CHECK;
/* Takes c back after its answer: kept idle when it is reusable and the pool open and not
 * full, else closed. */
void upstream_pool_put(upstream_pool *p, upstream_conn *c);
/* How many connections are idle in the pool now. */
unsigned upstream_pool_idle(upstream_pool *p);
/* Closes the connections idle longer than idle_ms (the health checker, every round). */
void upstream_pool_expire(upstream_pool *p);
/* Closes every idle connection and keeps none until upstream_pool_reopen: the backend left
 * the set. */
void upstream_pool_close(upstream_pool *p);
void upstream_pool_reopen(upstream_pool *p);

#endif
