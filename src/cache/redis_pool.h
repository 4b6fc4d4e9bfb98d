/* The redis tier's connection pool, and what it does while the server is down or slow.
 *
 * A batch takes one connection for its whole pipeline and gives it back. When an exchange
 * fails (connection lost, a command timed out) the connection is closed, every other
 * connection made before the failure is marked stale (it would fail the same way), and the
 * pool goes into backoff: for 100 ms, doubling after each failed reconnect up to 2 s,
 * acquire fails at once without touching the network — a lookup answers "miss", a get
 * misses, a put is dropped. After the backoff, one caller probes (reconnects, bounded by
 * the connect and command timeouts) while the others keep failing fast; a successful
 * probe ends the backoff and stale connections reconnect as they are next taken. */
#ifndef KVSPILL_CACHE_REDIS_POOL_H
#define KVSPILL_CACHE_REDIS_POOL_H

#include "cache/redis_conn.h"

typedef struct kvs_redis_pool kvs_redis_pool;

typedef struct kvs_redis_lease {
    redisContext *ctx;
    uint32_t slot;
    uint64_t epoch; /* the pool's failure count when the connection was made */
} kvs_redis_lease;

/* Connects all size connections now, so that a server that is unreachable or refuses the
 * credentials is an error at open. */
kvs_status kvs_redis_pool_open(const kvs_redis_target *target, uint32_t size,
                               kvs_redis_pool **out, kvs_error *err);

/* A connection for one exchange. Fails at once with KVS_ERR_REMOTE during backoff; with
 * KVS_ERR_TIMEOUT when every connection stays busy for the command timeout. Call with
 * SIGPIPE blocked (kvs_sigpipe_block): it may reconnect. */
kvs_status kvs_redis_pool_acquire(kvs_redis_pool *pool, kvs_redis_lease *lease, kvs_error *err);

/* Gives the connection back. failure: NULL when the exchange went well (a reply that is a
 * Redis error still counts as well); else why it broke — the connection is closed and the
 * pool goes into backoff. */
void kvs_redis_pool_release(kvs_redis_pool *pool, kvs_redis_lease *lease,
                            const kvs_error *failure);

/* Connections made after open (reconnects). */
uint64_t kvs_redis_pool_reconnects(kvs_redis_pool *pool);

void kvs_redis_pool_close(kvs_redis_pool *pool);

#endif
