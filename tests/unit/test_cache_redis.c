/* Two kvs_cache instances that share nothing but a Redis server (no common directory, as
 * two nodes would): the second finds and loads, bit for bit, what the first stored; and a
 * cache whose Redis dies keeps answering from memory without waiting on it. Public API
 * only. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvspill.h"
#include "redis_fixture.h"

#define N_CHUNKS 4
#define CHUNK_TOKENS 256

static const kvs_layout layout = {22, 4, 64, KVS_DTYPE_F16};

typedef struct prompt {
    kvs_key ns;
    kvs_key keys[N_CHUNKS];
    int32_t tokens[N_CHUNKS * CHUNK_TOKENS];
    kvs_chunk_request reqs[N_CHUNKS];
    kvs_chunk *chunks[N_CHUNKS]; /* the test's own references */
} prompt;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void make_prompt(prompt *p, uint64_t seed)
{
    kvs_namespace_desc desc = {.layout = layout, .tp_size = 1, .cache_salt = "redis-test"};
    test_fill_random(desc.model_fingerprint, sizeof desc.model_fingerprint, seed);
    kvs_error err;
    assert_int_equal(kvs_namespace_id(&desc, &p->ns, &err), KVS_OK);
    for (size_t i = 0; i < N_CHUNKS * CHUNK_TOKENS; i++)
        p->tokens[i] = (int32_t)((seed * 31 + i * 7919) % 32000);
    size_t n;
    assert_int_equal(kvs_chunk_keys(&p->ns, p->tokens, N_CHUNKS * CHUNK_TOKENS, CHUNK_TOKENS,
                                    false, p->keys, N_CHUNKS, &n, &err),
                     KVS_OK);
    assert_int_equal(n, N_CHUNKS);
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        const kvs_key *parent = i == 0 ? &p->ns : &p->keys[i - 1];
        const int32_t *tok = p->tokens + i * CHUNK_TOKENS;
        assert_int_equal(kvs_chunk_new(&p->ns, parent, &p->keys[i], i, tok, CHUNK_TOKENS,
                                       &layout, &p->chunks[i], &err),
                         KVS_OK);
        for (uint32_t l = 0; l < layout.n_layers; l++)
            for (int kv = 0; kv < 2; kv++)
                test_fill_random(kvs_chunk_segment_mut(p->chunks[i], l, kv),
                                 kvs_segment_bytes(&layout, CHUNK_TOKENS),
                                 seed + i * 1000 + l * 2 + (uint64_t)kv);
        p->reqs[i] = (kvs_chunk_request){p->keys[i], i, tok, CHUNK_TOKENS};
    }
}

static void free_prompt(prompt *p)
{
    for (int i = 0; i < N_CHUNKS; i++)
        kvs_chunk_release(p->chunks[i]);
}

static kvs_cache *open_cache(const char *url)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.max_local_cpu_size = 256ull << 20;
    cfg.local_disk[0] = '\0';
    cfg.gds_path[0] = '\0';
    snprintf(cfg.remote_url, sizeof cfg.remote_url, "%s", url);
    kvs_cache *c;
    kvs_error err = {0};
    if (kvs_cache_open(&cfg, &c, &err) != KVS_OK)
        fail_msg("open cache on %s: %s", url, err.msg);
    return c;
}

static void put_prompt(kvs_cache *c, prompt *p)
{
    kvs_chunk *refs[N_CHUNKS];
    for (int i = 0; i < N_CHUNKS; i++)
        refs[i] = kvs_chunk_ref(p->chunks[i]);
    kvs_batch *b;
    kvs_error err;
    assert_int_equal(kvs_put_async(c, refs, N_CHUNKS, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, 30000), KVS_OK);
    kvs_batch_free(b);
    assert_int_equal(kvs_cache_flush(c, 30000, &err), KVS_OK);
}

static const kvs_tier_stats *tier_stats(const kvs_stats *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_tiers; i++)
        if (!strcmp(s->tiers[i].name, name))
            return &s->tiers[i];
    fail_msg("no tier named %s", name);
    return NULL;
}

static void test_second_cache_hits_what_the_first_stored(void **state)
{
    test_redis srv;
    test_redis_start(&srv, NULL);
    char url[300];
    test_redis_url(&srv, NULL, NULL, url, sizeof url);
    prompt p;
    make_prompt(&p, 11);

    kvs_cache *a = open_cache(url);
    put_prompt(a, &p);
    kvs_stats sa;
    kvs_cache_stats(a, &sa);
    assert_int_equal(tier_stats(&sa, "redis")->puts, N_CHUNKS);

    kvs_cache *b = open_cache(url);
    kvs_error err;
    size_t hit;
    assert_int_equal(kvs_lookup(b, &p.ns, p.keys, N_CHUNKS, &hit, &err), KVS_OK);
    assert_int_equal(hit, N_CHUNKS);
    kvs_batch *batch;
    assert_int_equal(kvs_get_async(b, &p.ns, p.reqs, N_CHUNKS, &batch, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(batch, 30000), KVS_OK);
    assert_int_equal(kvs_batch_loaded(batch), N_CHUNKS);
    for (size_t i = 0; i < N_CHUNKS; i++) {
        const kvs_chunk *got = kvs_batch_chunk(batch, i);
        for (uint32_t l = 0; l < layout.n_layers; l++)
            for (int kv = 0; kv < 2; kv++)
                assert_memory_equal(kvs_chunk_segment(got, l, kv),
                                    kvs_chunk_segment(p.chunks[i], l, kv),
                                    kvs_segment_bytes(&layout, CHUNK_TOKENS));
        assert_memory_equal(kvs_chunk_tokens(got), p.reqs[i].tokens,
                            CHUNK_TOKENS * sizeof(int32_t));
    }
    kvs_batch_free(batch);
    kvs_stats sb;
    kvs_cache_stats(b, &sb);
    assert_int_equal(tier_stats(&sb, "redis")->hits, N_CHUNKS);

    /* a prompt the first cache never stored is not found by the second */
    prompt q;
    make_prompt(&q, 12);
    assert_int_equal(kvs_lookup(b, &q.ns, q.keys, N_CHUNKS, &hit, &err), KVS_OK);
    assert_int_equal(hit, 0);

    free_prompt(&q);
    kvs_cache_close(b);
    kvs_cache_close(a);
    free_prompt(&p);
    test_redis_stop(&srv);
}

/* Redis dies under a cache: lookups and gets are answered from memory, puts still finish
 * (the redis copies are dropped and counted), and nothing waits for the server. */
static void test_cache_keeps_serving_when_redis_dies(void **state)
{
    test_redis srv;
    test_redis_start(&srv, NULL);
    char url[300];
    test_redis_url(&srv, NULL, NULL, url, sizeof url);
    kvs_cache *c = open_cache(url);
    prompt p, q;
    make_prompt(&p, 21);
    make_prompt(&q, 22);
    put_prompt(c, &p);

    test_redis_signal(&srv, SIGKILL);
    uint64_t t0 = now_ms();
    size_t hit;
    kvs_error err;
    assert_int_equal(kvs_lookup(c, &p.ns, p.keys, N_CHUNKS, &hit, &err), KVS_OK);
    assert_int_equal(hit, N_CHUNKS);
    kvs_batch *batch;
    assert_int_equal(kvs_get_async(c, &p.ns, p.reqs, N_CHUNKS, &batch, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(batch, 30000), KVS_OK);
    assert_int_equal(kvs_batch_loaded(batch), N_CHUNKS);
    kvs_batch_free(batch);
    put_prompt(c, &q);
    assert_int_equal(kvs_lookup(c, &q.ns, q.keys, N_CHUNKS, &hit, &err), KVS_OK);
    assert_int_equal(hit, N_CHUNKS);
    assert_in_range(now_ms() - t0, 0, 5000); /* the cache's redis command timeout */

    kvs_stats s;
    kvs_cache_stats(c, &s);
    const kvs_tier_stats *r = tier_stats(&s, "redis");
    assert_int_equal(r->puts, N_CHUNKS);
    assert_int_equal(r->put_errors, N_CHUNKS);
    assert_non_null(strstr(r->last_error, url));

    kvs_cache_close(c);
    free_prompt(&p);
    free_prompt(&q);
    test_redis_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_cache_hits_what_the_first_stored),
        cmocka_unit_test(test_cache_keeps_serving_when_redis_dies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
