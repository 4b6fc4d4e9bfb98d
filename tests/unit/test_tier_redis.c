/* The redis tier against a private redis-server: bit-exact round trips, damaged values
 * treated as misses and deleted, a server that dies or stalls (answers come back within
 * the timeout, puts are dropped and counted, the tier recovers), and credentials. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/object.h"
#include "cache/tier.h"
#include "redis_fixture.h"

#define CMD_TIMEOUT_MS 300u

static const kvs_layout layouts[] = {
    {2, 1, 64, KVS_DTYPE_F16},
    {1, 8, 128, KVS_DTYPE_F32},
    {3, 2, 80, KVS_DTYPE_BF16},
    {22, 4, 64, KVS_DTYPE_F16}, /* TinyLlama: 5.8 MB per 256-token chunk */
};
static const uint32_t layout_tokens[] = {256, 16, 1, 256};

typedef struct chain {
    kvs_key ns;
    size_t n;
    kvs_chunk *chunks[8];
    kvs_chunk_request reqs[8];
    kvs_key keys[8];
} chain;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* n sealed chunks chained under a namespace made from seed, with random payloads. */
static void make_chain(chain *c, const kvs_layout *layout, uint32_t n_tokens, size_t n,
                       uint64_t seed)
{
    memset(c, 0, sizeof *c);
    test_fill_random(c->ns.b, sizeof c->ns.b, seed);
    c->n = n;
    kvs_key parent = c->ns;
    for (size_t i = 0; i < n; i++) {
        int32_t *tokens = malloc(n_tokens * sizeof *tokens);
        assert_non_null(tokens);
        for (uint32_t j = 0; j < n_tokens; j++)
            tokens[j] = (int32_t)((seed * 7919 + i * 31 + j * 104729) % 32000);
        kvs_key_next(&parent, tokens, n_tokens, &c->keys[i]);
        kvs_error err;
        assert_int_equal(kvs_chunk_new(&c->ns, &parent, &c->keys[i], (uint32_t)i, tokens,
                                       n_tokens, layout, &c->chunks[i], &err),
                         KVS_OK);
        size_t seg = kvs_segment_bytes(layout, n_tokens);
        for (uint32_t l = 0; l < layout->n_layers; l++)
            for (int kv = 0; kv < 2; kv++)
                test_fill_random(kvs_chunk_segment_mut(c->chunks[i], l, kv), seg,
                                 seed * 1000 + i * 100 + l * 2 + (uint64_t)kv);
        kvs_object_seal(c->chunks[i]);
        c->reqs[i].key = c->keys[i];
        c->reqs[i].chunk_index = (uint32_t)i;
        c->reqs[i].tokens = kvs_chunk_tokens(c->chunks[i]);
        c->reqs[i].n_tokens = n_tokens;
        free(tokens);
        parent = c->keys[i];
    }
}

static void free_chain(chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        kvs_chunk_release(c->chunks[i]);
}

static kvs_tier *open_tier(const char *url, uint32_t pool_size)
{
    kvs_redis_tier_options o = {.url = url, .pool_size = pool_size,
                                .connect_timeout_ms = CMD_TIMEOUT_MS,
                                .command_timeout_ms = CMD_TIMEOUT_MS};
    kvs_tier *t;
    kvs_error err = {0};
    if (kvs_tier_redis_open(&o, &t, &err) != KVS_OK)
        fail_msg("open %s: %s", url, err.msg);
    return t;
}

static kvs_status open_fails(const char *url, kvs_error *err)
{
    kvs_redis_tier_options o = {.url = url, .pool_size = 2, .connect_timeout_ms = 500,
                                .command_timeout_ms = 500};
    kvs_tier *t = NULL;
    kvs_status s = kvs_tier_redis_open(&o, &t, err);
    assert_int_not_equal(s, KVS_OK);
    assert_null(t);
    return s;
}

static void put_all(kvs_tier *t, const chain *c)
{
    kvs_status st[8];
    t->methods->put(t, c->chunks, c->n, st);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(st[i], KVS_OK);
}

/* Gets the whole chain; returns how many came back equal to what was put. */
static size_t get_equal(kvs_tier *t, const chain *c, kvs_status *st)
{
    kvs_chunk *out[8];
    t->methods->get(t, &c->ns, c->reqs, c->n, out, st);
    size_t equal = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (st[i] != KVS_OK) {
            assert_null(out[i]);
            continue;
        }
        assert_non_null(out[i]);
        assert_int_equal(out[i]->total_size, c->chunks[i]->total_size);
        assert_memory_equal(out[i]->buf, c->chunks[i]->buf, c->chunks[i]->total_size);
        assert_true(kvs_key_equal(&kvs_chunk_get_info(out[i])->key, &c->keys[i]));
        equal++;
        kvs_chunk_release(out[i]);
    }
    return equal;
}

static kvs_tier_stats stats_of(kvs_tier *t)
{
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    return s;
}

static void object_key(const kvs_key *ns, const kvs_key *key, char *out)
{
    char a[KVS_KEY_HEX_LEN + 1], b[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(ns, a);
    kvs_key_hex(key, b);
    sprintf(out, "kvspill:v1:%s:%s", a, b);
}

static long long exists(redisContext *c, const char *key)
{
    redisReply *r = test_redis_command(c, "EXISTS %s", key);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- one shared server for the functional tests ---------------------------------------- */

static test_redis shared;
static char shared_url[256];

static int setup_shared(void **state)
{
    test_redis_start(&shared, NULL);
    test_redis_url(&shared, NULL, NULL, shared_url, sizeof shared_url);
    return 0;
}

static int teardown_shared(void **state)
{
    test_redis_stop(&shared);
    return 0;
}

static void test_round_trips_are_bit_exact(void **state)
{
    kvs_tier *t = open_tier(shared_url, 2);
    redisContext *rc = test_redis_connect(&shared);
    uint64_t bytes = 0;
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        chain c;
        make_chain(&c, &layouts[l], layout_tokens[l], 3, 100 + l);
        assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, c.n), 0);
        put_all(t, &c);
        for (size_t i = 0; i < c.n; i++)
            bytes += c.chunks[i]->total_size;

        /* the value under the documented key is exactly the object's bytes */
        char key[160];
        object_key(&c.ns, &c.keys[1], key);
        redisReply *r = test_redis_command(rc, "GET %s", key);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, c.chunks[1]->total_size);
        assert_memory_equal(r->str, c.chunks[1]->buf, r->len);
        freeReplyObject(r);

        assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, c.n), 3);
        assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys + 1, 2), 2);
        kvs_status st[8];
        assert_int_equal(get_equal(t, &c, st), 3);
        free_chain(&c);
    }
    kvs_tier_stats s = stats_of(t);
    assert_string_equal(s.name, "redis");
    assert_int_equal(s.puts, 12);
    assert_int_equal(s.hits, 12);
    assert_int_equal(s.bytes_written, bytes);
    assert_int_equal(s.bytes_read, bytes);
    assert_int_equal(s.put_errors + s.get_errors + s.corrupt + s.misses, 0);
    assert_true(s.read_ns > 0 && s.write_ns > 0);
    assert_string_equal(s.last_error, "");
    redisFree(rc);
    t->methods->close(t);
}

static void test_misses_and_prefix(void **state)
{
    kvs_tier *t = open_tier(shared_url, 1);
    chain c;
    make_chain(&c, &layouts[0], 32, 4, 7);
    kvs_chunk *const first_two[2] = {c.chunks[0], c.chunks[1]};
    kvs_status st[8];
    t->methods->put(t, first_two, 2, st);
    assert_int_equal(st[0], KVS_OK);
    assert_int_equal(st[1], KVS_OK);
    assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, 4), 2);
    assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys + 2, 2), 0);
    /* a hole stops the prefix even when later keys are present */
    kvs_chunk *const last[1] = {c.chunks[3]};
    t->methods->put(t, last, 1, st);
    assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, 4), 2);

    assert_int_equal(get_equal(t, &c, st), 3);
    assert_int_equal(st[2], KVS_ERR_NOT_FOUND);
    kvs_tier_stats s = stats_of(t);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.get_errors, 0);

    kvs_error err;
    assert_int_equal(t->methods->remove(t, &c.ns, &c.keys[0], &err), KVS_OK);
    assert_int_equal(t->methods->remove(t, &c.ns, &c.keys[0], &err), KVS_OK); /* absent */
    assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, 4), 0);
    free_chain(&c);
    t->methods->close(t);
}

/* Each damage is written straight into Redis; the tier must answer a miss, count it, and
 * delete the value. */
static void test_damaged_values_are_misses_and_deleted(void **state)
{
    kvs_tier *t = open_tier(shared_url, 1);
    redisContext *rc = test_redis_connect(&shared);
    chain c, other;
    make_chain(&c, &layouts[1], 16, 1, 21);
    make_chain(&other, &layouts[1], 16, 1, 22); /* another namespace, same shape */
    const kvs_chunk *ch = c.chunks[0];
    char key[160];
    object_key(&c.ns, &c.keys[0], key);

    enum { FLIP_PAYLOAD, FLIP_HEADER, TRUNCATE, EMPTY, OTHER_NS, WRONG_TYPE, N_DAMAGE };
    for (int d = 0; d < N_DAMAGE; d++) {
        uint8_t *bytes = malloc(ch->total_size);
        assert_non_null(bytes);
        memcpy(bytes, ch->buf, ch->total_size);
        size_t len = ch->total_size;
        redisReply *r;
        switch (d) {
        case FLIP_PAYLOAD: bytes[ch->header_size + 777] ^= 0x10; break;
        case FLIP_HEADER: bytes[40] ^= 0x01; break;
        case TRUNCATE: len -= 1000; break;
        case EMPTY: len = 0; break;
        case OTHER_NS:
            len = other.chunks[0]->total_size;
            memcpy(bytes, other.chunks[0]->buf, len);
            break;
        }
        if (d == WRONG_TYPE)
            r = test_redis_command(rc, "RPUSH %s x", key);
        else
            r = test_redis_command(rc, "SET %s %b", key, bytes, len);
        freeReplyObject(r);
        free(bytes);

        kvs_status st[1];
        assert_int_equal(get_equal(t, &c, st), 0);
        assert_int_equal(st[0], KVS_ERR_CORRUPT);
        assert_int_equal(exists(rc, key), 0);
        kvs_tier_stats s = stats_of(t);
        assert_int_equal(s.corrupt, (uint64_t)d + 1);
        assert_int_equal(s.misses, (uint64_t)d + 1);
        assert_non_null(strstr(s.last_error, key));
    }
    /* the tier still works: a good object written afterwards loads */
    put_all(t, &c);
    kvs_status st[1];
    assert_int_equal(get_equal(t, &c, st), 1);
    /* a request whose expected tokens differ from the object's is refused too */
    int32_t wrong[16] = {0};
    kvs_chunk_request req = c.reqs[0];
    req.tokens = wrong;
    kvs_chunk *out;
    t->methods->get(t, &c.ns, &req, 1, &out, st);
    assert_int_equal(st[0], KVS_ERR_CORRUPT);
    assert_null(out);
    free_chain(&c);
    free_chain(&other);
    redisFree(rc);
    t->methods->close(t);
}

static void test_db_from_url(void **state)
{
    char url[300];
    test_redis_url(&shared, NULL, "3", url, sizeof url);
    kvs_tier *t = open_tier(url, 1);
    chain c;
    make_chain(&c, &layouts[0], 8, 1, 31);
    put_all(t, &c);
    char key[160];
    object_key(&c.ns, &c.keys[0], key);
    redisContext *rc = test_redis_connect(&shared);
    assert_int_equal(exists(rc, key), 0);
    freeReplyObject(test_redis_command(rc, "SELECT 3"));
    assert_int_equal(exists(rc, key), 1);
    redisFree(rc);
    free_chain(&c);
    t->methods->close(t);

    test_redis_url(&shared, NULL, "4000", url, sizeof url);
    kvs_error err;
    open_fails(url, &err);
    assert_non_null(strstr(err.msg, "SELECT failed"));
    assert_non_null(strstr(err.msg, "/4000"));
}

static void test_open_errors(void **state)
{
    kvs_error err;
    assert_int_equal(open_fails("rediss://127.0.0.1:6379", &err), KVS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "TLS"));
    assert_int_equal(open_fails("redis://127.0.0.1:notaport", &err), KVS_ERR_INVALID);

    /* nothing listens on a stopped server's port */
    test_redis gone;
    test_redis_start(&gone, NULL);
    char url[300];
    test_redis_url(&gone, NULL, NULL, url, sizeof url);
    test_redis_stop(&gone);
    assert_int_equal(open_fails(url, &err), KVS_ERR_REMOTE);
    char expect[400];
    snprintf(expect, sizeof expect, "%s: connect: Connection refused", url);
    assert_string_equal(err.msg, expect);
}

typedef struct worker {
    kvs_tier *tier;
    uint64_t seed;
    size_t ok;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < 10; round++) {
        chain c;
        make_chain(&c, &layouts[0], 16, 3, w->seed * 100 + (uint64_t)round);
        kvs_status st[8];
        w->tier->methods->put(w->tier, c.chunks, c.n, st);
        w->ok += get_equal(w->tier, &c, st);
        w->ok += w->tier->methods->contains_prefix(w->tier, &c.ns, c.keys, c.n);
        free_chain(&c);
    }
    return NULL;
}

/* More threads than connections: batches wait for a free one and none is lost. */
static void test_threads_share_the_pool(void **state)
{
    kvs_tier *t = open_tier(shared_url, 2);
    pthread_t th[5];
    worker w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (worker){t, 500 + (uint64_t)i, 0};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 10 * 6);
    }
    kvs_tier_stats s = stats_of(t);
    assert_int_equal(s.puts, 150);
    assert_int_equal(s.hits, 150);
    assert_int_equal(s.reconnects, 0);
    t->methods->close(t);
}

/* ---- servers of their own: killed, stalled, password-protected ---------------------- */

/* Runs a put, a get and a lookup of c while the server is unusable; each must come back
 * within twice the command timeout, the put dropped, the get missing, the lookup 0.
 * The put goes first: writing megabytes to a dead server's socket raises SIGPIPE, which
 * must not kill the process. */
static void assert_fails_fast(kvs_tier *t, const chain *c)
{
    kvs_status st[8];
    uint64_t t0 = now_ms();
    t->methods->put(t, c->chunks, c->n, st);
    for (size_t i = 0; i < c->n; i++)
        assert_int_not_equal(st[i], KVS_OK);
    uint64_t t1 = now_ms();
    assert_int_equal(get_equal(t, c, st), 0);
    for (size_t i = 0; i < c->n; i++)
        assert_int_not_equal(st[i], KVS_OK);
    uint64_t t2 = now_ms();
    assert_int_equal(t->methods->contains_prefix(t, &c->ns, c->keys, c->n), 0);
    uint64_t t3 = now_ms();
    if (t1 - t0 > 2 * CMD_TIMEOUT_MS || t2 - t1 > 2 * CMD_TIMEOUT_MS ||
        t3 - t2 > 2 * CMD_TIMEOUT_MS)
        fail_msg("put %llu ms, get %llu ms, lookup %llu ms: over 2 x %u ms",
                 (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
                 (unsigned long long)(t3 - t2), CMD_TIMEOUT_MS);
}

/* Polls until a put goes through again (the tier reconnected after its backoff). */
static void assert_recovers(kvs_tier *t, const chain *c)
{
    kvs_status st[8];
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        t->methods->put(t, c->chunks, c->n, st);
        if (st[0] == KVS_OK)
            break;
        if (now_ms() > deadline)
            fail_msg("the tier did not recover within 10 s: %s", stats_of(t).last_error);
        sleep_ms(50);
    }
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(st[i], KVS_OK);
    assert_int_equal(t->methods->contains_prefix(t, &c->ns, c->keys, c->n), c->n);
    assert_int_equal(get_equal(t, c, st), c->n);
}

static void test_killed_server_fails_fast_and_recovers(void **state)
{
    test_redis srv;
    test_redis_start(&srv, NULL);
    char url[300];
    test_redis_url(&srv, NULL, NULL, url, sizeof url);
    kvs_tier *t = open_tier(url, 2);
    chain before, after;
    make_chain(&before, &layouts[3], 256, 2, 41);
    make_chain(&after, &layouts[3], 256, 2, 42);
    put_all(t, &before);

    test_redis_signal(&srv, SIGKILL);
    for (int i = 0; i < 5; i++) { /* the first notices, the others hit the backoff */
        assert_fails_fast(t, &before);
        sleep_ms(60);
    }
    kvs_tier_stats s = stats_of(t);
    assert_int_equal(s.put_errors, 5 * before.n);
    assert_int_equal(s.get_errors, 5 * before.n);
    assert_int_equal(s.puts, before.n);
    assert_non_null(strstr(s.last_error, url));

    test_redis_restart(&srv);
    assert_recovers(t, &after);
    /* what the dead server held is gone (no persistence): a miss, not an error */
    kvs_status st[8];
    uint64_t errors = stats_of(t).get_errors;
    assert_int_equal(get_equal(t, &before, st), 0);
    assert_int_equal(st[0], KVS_ERR_NOT_FOUND);
    s = stats_of(t);
    assert_int_equal(s.get_errors, errors);
    assert_true(s.reconnects >= 1);

    free_chain(&before);
    free_chain(&after);
    t->methods->close(t);
    test_redis_stop(&srv);
}

static void test_stalled_server_times_out_and_recovers(void **state)
{
    test_redis srv;
    test_redis_start(&srv, NULL);
    char url[300];
    test_redis_url(&srv, NULL, NULL, url, sizeof url);
    kvs_tier *t = open_tier(url, 2);
    chain c, later;
    make_chain(&c, &layouts[0], 64, 3, 51);
    make_chain(&later, &layouts[0], 64, 3, 52);
    put_all(t, &c);

    test_redis_signal(&srv, SIGSTOP); /* accepts connections, answers nothing */
    assert_fails_fast(t, &c);
    /* the get above timed out; in the backoff that follows nothing waits on the server */
    uint64_t t0 = now_ms();
    assert_int_equal(t->methods->contains_prefix(t, &c.ns, c.keys, c.n), 0);
    assert_in_range(now_ms() - t0, 0, CMD_TIMEOUT_MS / 3);
    for (int i = 0; i < 4; i++) {
        assert_fails_fast(t, &c);
        sleep_ms(60);
    }
    kvs_tier_stats s = stats_of(t);
    assert_true(s.timeouts >= 1);
    assert_non_null(strstr(s.last_error, "no answer within 300 ms"));

    test_redis_signal(&srv, SIGCONT);
    assert_recovers(t, &later);
    kvs_status st[8];
    assert_int_equal(get_equal(t, &c, st), c.n); /* the server kept its data */
    free_chain(&c);
    free_chain(&later);
    t->methods->close(t);
    test_redis_stop(&srv);
}

static void test_passwords_and_acl_users(void **state)
{
    test_redis srv;
    test_redis_start(&srv, "right-pw");
    char url[300];
    kvs_error err;

    test_redis_url(&srv, ":wrong-pw", NULL, url, sizeof url);
    open_fails(url, &err);
    char expect[400];
    snprintf(expect, sizeof expect, "redis://127.0.0.1:%d: AUTH failed: WRONGPASS", srv.port);
    assert_memory_equal(err.msg, expect, strlen(expect));
    assert_null(strstr(err.msg, "wrong-pw"));

    test_redis_url(&srv, NULL, NULL, url, sizeof url);
    open_fails(url, &err);
    assert_non_null(strstr(err.msg, "NOAUTH"));
    assert_non_null(strstr(err.msg, "the URL has no password"));

    chain c;
    make_chain(&c, &layouts[0], 16, 2, 61);
    test_redis_url(&srv, ":right-pw", NULL, url, sizeof url);
    kvs_tier *t = open_tier(url, 1);
    put_all(t, &c);
    kvs_status st[8];
    assert_int_equal(get_equal(t, &c, st), 2);
    t->methods->close(t);

    /* an ACL user: AUTH user pass */
    redisContext *rc = test_redis_connect(&srv);
    freeReplyObject(test_redis_command(rc, "ACL SETUSER alice on >alice-pw ~kvspill:* +@all"));
    redisFree(rc);
    test_redis_url(&srv, "alice:alice-pw", NULL, url, sizeof url);
    t = open_tier(url, 1);
    assert_int_equal(get_equal(t, &c, st), 2);
    t->methods->close(t);
    test_redis_url(&srv, "alice:nope", NULL, url, sizeof url);
    open_fails(url, &err);
    assert_non_null(strstr(err.msg, "AUTH failed: WRONGPASS"));

    free_chain(&c);
    test_redis_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest with_shared[] = {
        cmocka_unit_test(test_round_trips_are_bit_exact),
        cmocka_unit_test(test_misses_and_prefix),
        cmocka_unit_test(test_damaged_values_are_misses_and_deleted),
        cmocka_unit_test(test_db_from_url),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_threads_share_the_pool),
    };
    const struct CMUnitTest own_server[] = {
        cmocka_unit_test(test_killed_server_fails_fast_and_recovers),
        cmocka_unit_test(test_stalled_server_times_out_and_recovers),
        cmocka_unit_test(test_passwords_and_acl_users),
    };
    int failed = cmocka_run_group_tests(with_shared, setup_shared, teardown_shared);
    return failed | cmocka_run_group_tests(own_server, NULL, NULL);
}
