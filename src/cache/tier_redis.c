/* The redis tier (ARCHITECTURE.md §5): each chunk object, byte for byte as the file tier stores
 * it, is one Redis string under "kvspill:v1:<namespace hex>:<key hex>". Capacity is Redis's
 * business (maxmemory + an eviction policy); an evicted object is a miss.
 *
 * Every batch takes one pooled connection and pipelines its commands: one round trip for a
 * lookup or a get of a whole prompt. Lookups send one EXISTS per key rather than one EVAL
 * that walks the chain: EXISTS costs the server a hash probe and each answer is 4 bytes,
 * while a script costs Lua setup per call (tens of µs, more than ~100 EXISTS), needs
 * EVALSHA/NOSCRIPT handling across restarts, and is often forbidden by ACLs.
 *
 * While Redis is down or stalled the pool (redis_pool.h) fails fast: nothing here waits
 * longer than the connect or command timeout. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/error.h"
#include "cache/object.h"
#include "cache/redis_pool.h"
#include "cache/redis_reply.h"
#include "cache/tier.h"

#define KEY_PREFIX "kvspill:v1:"
#define OBJECT_KEY_LEN (sizeof KEY_PREFIX - 1 + 2 * KVS_KEY_HEX_LEN + 1)
/* Bytes of SET commands a put pipelines before reading their answers: bounds the copy
 * hiredis makes of them, while keeping many small objects in one round trip. */
#define PUT_WINDOW_BYTES (16u << 20)

#define DEFAULT_POOL_SIZE 4u
#define DEFAULT_CONNECT_TIMEOUT_MS 1000u
#define DEFAULT_COMMAND_TIMEOUT_MS 1000u

typedef struct redis_tier {
    kvs_tier base;
    kvs_redis_target target;
    kvs_redis_pool *pool;
    atomic_uint_fast64_t hits, misses, bytes_read, bytes_written, puts, put_errors,
        get_errors, corrupt, read_ns, write_ns, timeouts;
} redis_tier;

typedef struct object_key {
    char s[OBJECT_KEY_LEN + 1];
} object_key;

static object_key make_key(const kvs_key *ns, const kvs_key *key)
{
    object_key k;
    memcpy(k.s, KEY_PREFIX, sizeof KEY_PREFIX - 1);
    char *p = k.s + sizeof KEY_PREFIX - 1;
    kvs_key_hex(ns, p);
    p[KVS_KEY_HEX_LEN] = ':';
    kvs_key_hex(key, p + KVS_KEY_HEX_LEN + 1);
    return k;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* Appends "<cmd> <key>" to the connection's pipeline. */
static void append_key_command(redisContext *c, const char *cmd, const object_key *k)
{
    const char *argv[2] = {cmd, k->s};
    const size_t lens[2] = {strlen(cmd), OBJECT_KEY_LEN};
    redisAppendCommandArgv(c, 2, argv, lens);
}

/* Records a failed exchange (a timeout is also counted). */
static void note_failure(redis_tier *t, kvs_status s, const kvs_error *err)
{
    if (s == KVS_ERR_TIMEOUT)
        add(&t->timeouts, 1);
    kvs_tier_note_error(&t->base, err);
}

/* Reads one reply; on an I/O failure fills err and returns NULL. */
static redisReply *read_reply(redis_tier *t, redisContext *c, const char *what, kvs_status *s,
                              kvs_error *err)
{
    redisReply *r;
    if (redisGetReply(c, (void **)&r) == REDIS_OK) {
        *s = KVS_OK;
        return r;
    }
    *s = kvs_redis_io_error(&t->target, c, errno, what, err);
    return NULL;
}

/* ---- lookup --------------------------------------------------------------------------- */

static size_t redis_contains_prefix(kvs_tier *tier, const kvs_key *ns, const kvs_key *keys,
                                    size_t n)
{
    redis_tier *t = (redis_tier *)tier;
    if (n == 0)
        return 0;
    kvs_sigpipe_guard guard;
    kvs_sigpipe_block(&guard);
    kvs_error err;
    kvs_redis_lease lease;
    kvs_status s = kvs_redis_pool_acquire(t->pool, &lease, &err);
    size_t hit = 0;
    if (s == KVS_OK) {
        for (size_t i = 0; i < n; i++) {
            object_key k = make_key(ns, &keys[i]);
            append_key_command(lease.ctx, "EXISTS", &k);
        }
        bool prefix = true;
        for (size_t i = 0; i < n && s == KVS_OK; i++) {
            redisReply *r = read_reply(t, lease.ctx, "EXISTS", &s, &err);
            if (!r)
                break;
            prefix = prefix && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            hit += prefix;
            freeReplyObject(r);
        }
        kvs_redis_pool_release(t->pool, &lease, s == KVS_OK ? NULL : &err);
    }
    if (s != KVS_OK) {
        note_failure(t, s, &err);
        hit = 0;
    }
    kvs_sigpipe_restore(&guard);
    return hit;
}

/* ---- get ------------------------------------------------------------------------------ */

/* Turns one GET reply into a verified chunk or a status (redis_reply.h), counting the
 * bytes of a hit and noting every error but a miss. */
static kvs_status take_object(redis_tier *t, const redisReply *r, const kvs_key *ns,
                              const kvs_chunk_request *req, const object_key *k,
                              kvs_chunk **out, bool *remove)
{
    kvs_error err;
    kvs_status s = kvs_redis_take_object(r, t->target.url.display, k->s, ns, req, out, remove,
                                         &err);
    if (s == KVS_OK)
        add(&t->bytes_read, r->len);
    else if (s != KVS_ERR_NOT_FOUND)
        kvs_tier_note_error(&t->base, &err);
    return s;
}

/* Deletes the keys of the objects that failed verification, in one command. Another
 * writer may have replaced one with a good object since our GET: deleting that costs a
 * miss, never a wrong answer. */
static kvs_status remove_bad(redis_tier *t, redisContext *c, const kvs_key *ns,
                             const kvs_chunk_request *reqs, const bool *bad, size_t n,
                             kvs_error *err)
{
    size_t n_bad = 0;
    for (size_t i = 0; i < n; i++)
        n_bad += bad[i];
    if (n_bad == 0)
        return KVS_OK;
    object_key *keys = malloc(n_bad * sizeof *keys);
    const char **argv = malloc((n_bad + 1) * sizeof *argv);
    size_t *lens = malloc((n_bad + 1) * sizeof *lens);
    kvs_status s = KVS_OK;
    if (keys && argv && lens) {
        argv[0] = "DEL";
        lens[0] = 3;
        for (size_t i = 0, j = 0; i < n; i++) {
            if (!bad[i])
                continue;
            keys[j] = make_key(ns, &reqs[i].key);
            argv[j + 1] = keys[j].s;
            lens[j + 1] = OBJECT_KEY_LEN;
            j++;
        }
        redisAppendCommandArgv(c, (int)n_bad + 1, argv, lens);
        redisReply *r = read_reply(t, c, "DEL", &s, err);
        if (r)
            freeReplyObject(r);
    }
    free(keys);
    free(argv);
    free(lens);
    return s;
}

static void redis_get(kvs_tier *tier, const kvs_key *ns, const kvs_chunk_request *reqs,
                      size_t n, kvs_chunk **out, kvs_status *status)
{
    redis_tier *t = (redis_tier *)tier;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (n == 0)
        return;
    uint64_t start = now_ns();
    kvs_sigpipe_guard guard;
    kvs_sigpipe_block(&guard);
    kvs_error err;
    kvs_redis_lease lease;
    size_t i = 0;
    bool *bad = calloc(n, sizeof *bad);
    kvs_status s = bad ? kvs_redis_pool_acquire(t->pool, &lease, &err)
                       : kvs_fail(&err, KVS_ERR_NOMEM, "%s: GET: out of memory",
                                  t->target.url.display);
    if (s == KVS_OK) {
        for (size_t j = 0; j < n; j++) {
            object_key k = make_key(ns, &reqs[j].key);
            append_key_command(lease.ctx, "GET", &k);
        }
        for (; i < n; i++) {
            redisReply *r = read_reply(t, lease.ctx, "GET", &s, &err);
            if (!r)
                break;
            object_key k = make_key(ns, &reqs[i].key);
            status[i] = take_object(t, r, ns, &reqs[i], &k, &out[i], &bad[i]);
            freeReplyObject(r);
        }
        if (s == KVS_OK)
            s = remove_bad(t, lease.ctx, ns, reqs, bad, n, &err);
        kvs_redis_pool_release(t->pool, &lease, s == KVS_OK ? NULL : &err);
    }
    size_t hits = 0, misses = 0, corrupt = 0, errors = 0;
    for (size_t j = 0; j < i; j++) {
        hits += status[j] == KVS_OK;
        misses += status[j] == KVS_ERR_NOT_FOUND || status[j] == KVS_ERR_CORRUPT;
        corrupt += status[j] == KVS_ERR_CORRUPT;
        errors += status[j] != KVS_OK && status[j] != KVS_ERR_NOT_FOUND &&
                  status[j] != KVS_ERR_CORRUPT;
    }
    if (s != KVS_OK && i < n) { /* the exchange broke off: the rest are not loaded */
        for (size_t j = i; j < n; j++)
            status[j] = s;
        errors += n - i;
    }
    if (s != KVS_OK)
        note_failure(t, s, &err);
    free(bad);
    kvs_sigpipe_restore(&guard);
    add(&t->hits, hits);
    add(&t->misses, misses);
    add(&t->corrupt, corrupt);
    add(&t->get_errors, errors);
    add(&t->read_ns, now_ns() - start);
}

/* ---- put ------------------------------------------------------------------------------ */

static kvs_status check_set_reply(redis_tier *t, const redisReply *r, const kvs_chunk *c)
{
    kvs_error err;
    object_key k = make_key(&c->info.ns, &c->info.key);
    kvs_status s = kvs_redis_check_set_reply(r, t->target.url.display, k.s, &err);
    if (s != KVS_OK)
        kvs_tier_note_error(&t->base, &err);
    return s;
}

/* Pipelines SETs of chunks[from..) up to PUT_WINDOW_BYTES (at least one) and reads their
 * answers. Returns the end of the window; *s gets an I/O failure (status[] past the
 * failure point then is left to the caller). */
static size_t put_window(redis_tier *t, redisContext *c, kvs_chunk *const *chunks, size_t from,
                         size_t n, kvs_status *status, kvs_status *s, kvs_error *err)
{
    size_t end = from, bytes = 0;
    while (end < n && (end == from || bytes + chunks[end]->total_size <= PUT_WINDOW_BYTES)) {
        const kvs_chunk *ch = chunks[end];
        object_key k = make_key(&ch->info.ns, &ch->info.key);
        const char *argv[3] = {"SET", k.s, (const char *)ch->buf};
        const size_t lens[3] = {3, OBJECT_KEY_LEN, ch->total_size};
        redisAppendCommandArgv(c, 3, argv, lens);
        bytes += ch->total_size;
        end++;
    }
    for (size_t i = from; i < end; i++) {
        redisReply *r = read_reply(t, c, "SET", s, err);
        if (!r)
            return i;
        status[i] = check_set_reply(t, r, chunks[i]);
        if (status[i] == KVS_OK)
            add(&t->bytes_written, chunks[i]->total_size);
        freeReplyObject(r);
    }
    return end;
}

static void redis_put(kvs_tier *tier, kvs_chunk *const *chunks, size_t n, kvs_status *status)
{
    redis_tier *t = (redis_tier *)tier;
    if (n == 0)
        return;
    uint64_t start = now_ns();
    kvs_sigpipe_guard guard;
    kvs_sigpipe_block(&guard);
    kvs_error err;
    kvs_redis_lease lease;
    size_t done = 0;
    kvs_status s = kvs_redis_pool_acquire(t->pool, &lease, &err);
    if (s == KVS_OK) {
        while (done < n && s == KVS_OK)
            done = put_window(t, lease.ctx, chunks, done, n, status, &s, &err);
        kvs_redis_pool_release(t->pool, &lease, s == KVS_OK ? NULL : &err);
    }
    /* A put that cannot reach Redis is dropped: the cache still has the chunk elsewhere. */
    for (size_t i = done; i < n; i++)
        status[i] = s;
    if (s != KVS_OK)
        note_failure(t, s, &err);
    kvs_sigpipe_restore(&guard);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += status[i] == KVS_OK;
    add(&t->puts, ok);
    add(&t->put_errors, n - ok);
    add(&t->write_ns, now_ns() - start);
}

/* ---- remove, stats, close, open -------------------------------------------------------- */

static kvs_status redis_remove(kvs_tier *tier, const kvs_key *ns, const kvs_key *key,
                               kvs_error *err)
{
    redis_tier *t = (redis_tier *)tier;
    kvs_sigpipe_guard guard;
    kvs_sigpipe_block(&guard);
    kvs_error why;
    kvs_redis_lease lease;
    kvs_status s = kvs_redis_pool_acquire(t->pool, &lease, &why);
    if (s == KVS_OK) {
        object_key k = make_key(ns, key);
        append_key_command(lease.ctx, "DEL", &k);
        redisReply *r = read_reply(t, lease.ctx, "DEL", &s, &why);
        if (r && r->type == REDIS_REPLY_ERROR)
            s = kvs_fail(&why, KVS_ERR_REMOTE, "%s: DEL %s: %.*s", t->target.url.display, k.s,
                         (int)r->len, r->str);
        if (r)
            freeReplyObject(r);
        kvs_redis_pool_release(t->pool, &lease, r ? NULL : &why);
    }
    kvs_sigpipe_restore(&guard);
    if (s == KVS_OK)
        return KVS_OK;
    note_failure(t, s, &why);
    if (err)
        *err = why;
    return s;
}

static void redis_stats(kvs_tier *tier, kvs_tier_stats *out)
{
    redis_tier *t = (redis_tier *)tier;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", t->base.name);
    out->hits = load(&t->hits);
    out->misses = load(&t->misses);
    out->bytes_read = load(&t->bytes_read);
    out->bytes_written = load(&t->bytes_written);
    out->puts = load(&t->puts);
    out->put_errors = load(&t->put_errors);
    out->get_errors = load(&t->get_errors);
    out->corrupt = load(&t->corrupt);
    out->read_ns = load(&t->read_ns);
    out->write_ns = load(&t->write_ns);
    out->timeouts = load(&t->timeouts);
    out->reconnects = kvs_redis_pool_reconnects(t->pool);
    pthread_mutex_lock(&t->base.error_lock);
    snprintf(out->last_error, sizeof out->last_error, "%s", t->base.last_error);
    pthread_mutex_unlock(&t->base.error_lock);
}

static void redis_close(kvs_tier *tier)
{
    redis_tier *t = (redis_tier *)tier;
    kvs_redis_pool_close(t->pool);
    kvs_tier_base_destroy(&t->base);
    free(t);
}

static const kvs_tier_methods redis_methods = {
    .contains_prefix = redis_contains_prefix,
    .get = redis_get,
    .put = redis_put,
    .remove = redis_remove,
    .stats = redis_stats,
    .close = redis_close,
};

kvs_status kvs_tier_redis_open(const kvs_redis_tier_options *opts, kvs_tier **out,
                               kvs_error *err)
{
    *out = NULL;
    redis_tier *t = calloc(1, sizeof *t);
    if (!t)
        return kvs_fail(err, KVS_ERR_NOMEM, "redis tier: out of memory");
    kvs_status s = kvs_redis_url_parse(opts->url, &t->target.url, err);
    if (s != KVS_OK) {
        free(t);
        return s;
    }
    t->target.connect_timeout_ms =
        opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    t->target.command_timeout_ms =
        opts->command_timeout_ms ? opts->command_timeout_ms : DEFAULT_COMMAND_TIMEOUT_MS;
    kvs_sigpipe_guard guard;
    kvs_sigpipe_block(&guard);
    s = kvs_redis_pool_open(&t->target, opts->pool_size ? opts->pool_size : DEFAULT_POOL_SIZE,
                            &t->pool, err);
    kvs_sigpipe_restore(&guard);
    if (s != KVS_OK) {
        free(t);
        return s;
    }
    kvs_tier_base_init(&t->base, &redis_methods, "redis");
    *out = &t->base;
    return KVS_OK;
}
