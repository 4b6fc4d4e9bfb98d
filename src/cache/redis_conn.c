#include "cache/redis_conn.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cache/error.h"
#include "cache/kvs_admin.h"

static struct timeval ms_to_timeval(uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* A blocking socket with SO_RCVTIMEO/SO_SNDTIMEO fails with EAGAIN when the timeout runs
 * out; hiredis's connect reports ETIMEDOUT. */
static bool is_timeout(int errnum)
{
    return errnum == EAGAIN || errnum == ETIMEDOUT;
}

kvs_status kvs_redis_io_error(const kvs_redis_target *t, const redisContext *c, int errnum,
                              const char *what, kvs_error *err)
{
    if (c->err == REDIS_ERR_IO && is_timeout(errnum))
        return kvs_fail(err, KVS_ERR_TIMEOUT, "%s: %s: no answer within %u ms", t->url.display,
                        what, !strcmp(what, "connect") ? t->connect_timeout_ms
                                                        : t->command_timeout_ms);
    return kvs_fail(err, KVS_ERR_REMOTE, "%s: %s: %s", t->url.display, what,
                    c->errstr[0] ? c->errstr : "connection failed");
}

/* Sends the setup commands in one round trip and checks each answer in order. */
static kvs_status handshake(const kvs_redis_target *t, redisContext *c, kvs_error *err)
{
    const char *what[3];
    int n = 0;
    if (t->url.password[0]) {
        if (t->url.user[0])
            redisAppendCommand(c, "AUTH %s %s", t->url.user, t->url.password);
        else
            redisAppendCommand(c, "AUTH %s", t->url.password);
        what[n++] = "AUTH";
    }
    if (t->url.db != 0) {
        redisAppendCommand(c, "SELECT %u", t->url.db);
        what[n++] = "SELECT";
    }
    redisAppendCommand(c, "PING");
    what[n++] = "PING";

    for (int i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return kvs_redis_io_error(t, c, errno, what[i], err);
        kvs_status s = KVS_OK;
        if (r->type == REDIS_REPLY_ERROR)
            s = kvs_fail(err, KVS_ERR_REMOTE, "%s: %s failed: %.*s%s", t->url.display, what[i],
                         (int)r->len, r->str,
                         !t->url.password[0] && !strncmp(r->str, "NOAUTH", 6)
                             ? " (the URL has no password)" : "");
        freeReplyObject(r);
        if (s != KVS_OK)
            return s;
    }
    return KVS_OK;
}

kvs_status kvs_redis_connect(const kvs_redis_target *t, redisContext **out, kvs_error *err)
{
    *out = NULL;
    redisContext *c = redisConnectWithTimeout(t->url.host, t->url.port,
                                              ms_to_timeval(t->connect_timeout_ms));
    if (!c)
        return kvs_fail(err, KVS_ERR_NOMEM, "%s: connect: out of memory", t->url.display);
    kvs_status s;
    if (c->err)
        s = kvs_redis_io_error(t, c, errno, "connect", err);
    else if (redisSetTimeout(c, ms_to_timeval(t->command_timeout_ms)) != REDIS_OK)
        s = kvs_redis_io_error(t, c, errno, "set timeout", err);
    else
        s = handshake(t, c, err);
    if (s != KVS_OK) {
        redisFree(c);
        return s;
    }
    *out = c;
    return KVS_OK;
}

kvs_status kvs_redis_connect_url(const char *url, uint32_t timeout_ms, redisContext **out,
                                 kvs_error *err)
{
    *out = NULL;
    kvs_redis_target t = {.connect_timeout_ms = timeout_ms, .command_timeout_ms = timeout_ms};
    kvs_status s = kvs_redis_url_parse(url, &t.url, err);
    return s != KVS_OK ? s : kvs_redis_connect(&t, out, err);
}

void kvs_sigpipe_block(kvs_sigpipe_guard *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old_mask);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void kvs_sigpipe_restore(const kvs_sigpipe_guard *g)
{
    if (!g->was_pending) {
        sigset_t pipe_set, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}
