/* One hiredis connection as the redis tier uses it: connected with a timeout, every socket
 * read and write bounded by the command timeout, authenticated and on the right db; and
 * the messages for what can go wrong with it, each naming the server. */
#ifndef KVSPILL_CACHE_REDIS_CONN_H
#define KVSPILL_CACHE_REDIS_CONN_H

#include <signal.h>
#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "cache/redis_url.h"

typedef struct kvs_redis_target {
    kvs_redis_url url;
    uint32_t connect_timeout_ms;
    uint32_t command_timeout_ms; /* bounds each socket read or write, so a stalled server
                                    fails a command after this long */
} kvs_redis_target;

/* Connects, sets the command timeout, and in one round trip sends AUTH (when the URL has a
 * password), SELECT (when db != 0) and PING. Errors: "redis://h:p: connect: Connection
 * refused", "redis://h:p: AUTH failed: WRONGPASS ...", "... timed out after N ms". */
kvs_status kvs_redis_connect(const kvs_redis_target *t, redisContext **out, kvs_error *err);

/* The status and message for a hiredis call on c that failed (c->err is set); errnum is
 * errno saved right after the call. KVS_ERR_TIMEOUT when the socket timeout ran out,
 * KVS_ERR_REMOTE otherwise. what names the command ("GET", "SET"). */
kvs_status kvs_redis_io_error(const kvs_redis_target *t, const redisContext *c, int errnum,
                              const char *what, kvs_error *err);

/* hiredis writes with write(2): a server that went away would raise SIGPIPE and kill the
 * process. The guard blocks SIGPIPE in the calling thread (the signal is sent to the thread
 * that wrote) and, on restore, discards one it caused, leaving the process's handlers alone. */
typedef struct kvs_sigpipe_guard {
    sigset_t old_mask;
    bool was_pending;
} kvs_sigpipe_guard;

void kvs_sigpipe_block(kvs_sigpipe_guard *g);
void kvs_sigpipe_restore(const kvs_sigpipe_guard *g);

#endif
