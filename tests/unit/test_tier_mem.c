/* The mem tier: bit-exact zero-copy round trips, LRU order within a byte capacity, and
 * eviction that never frees bytes a reader holds (run under ASan to see it). */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "cache/object.h"
#include "cache/tier.h"
#include "test_chunks.h"

static const kvs_layout layout = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                  .dtype = KVS_DTYPE_F16};
static const kvs_key ns = {{0x42}};

#define CHUNK_TOKENS 4
#define N_CHUNKS 8

typedef struct fixture {
    int32_t tokens[N_CHUNKS * CHUNK_TOKENS];
    kvs_chunk *chunks[N_CHUNKS]; /* chunk i chained after chunk i-1, payload seed i */
    kvs_chunk_request reqs[N_CHUNKS];
} fixture;

static void make_fixture(fixture *f)
{
    test_tokens(f->tokens, N_CHUNKS * CHUNK_TOKENS, 7);
    const kvs_key *parent = &ns;
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        f->chunks[i] = test_chunk(&ns, parent, i, f->tokens + i * CHUNK_TOKENS, CHUNK_TOKENS,
                                  &layout, i);
        kvs_object_seal(f->chunks[i]);
        parent = &f->chunks[i]->info.key;
        f->reqs[i] = (kvs_chunk_request){.key = f->chunks[i]->info.key, .chunk_index = i,
                                         .tokens = f->tokens + i * CHUNK_TOKENS,
                                         .n_tokens = CHUNK_TOKENS};
    }
}

static void free_fixture(fixture *f)
{
    for (size_t i = 0; i < N_CHUNKS; i++)
        kvs_chunk_release(f->chunks[i]);
}

static kvs_tier *open_mem(uint64_t capacity)
{
    kvs_tier *t = NULL;
    kvs_error err;
    if (kvs_tier_mem_open(capacity, &t, &err) != KVS_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(t->name, "mem");
    return t;
}

static void put_one(kvs_tier *t, kvs_chunk *c, kvs_status want)
{
    kvs_status st;
    t->methods->put(t, &c, 1, &st);
    assert_int_equal(st, want);
}

static kvs_chunk *get_one(kvs_tier *t, const kvs_chunk_request *r, kvs_status want)
{
    kvs_chunk *c = NULL;
    kvs_status st;
    t->methods->get(t, &ns, r, 1, &c, &st);
    assert_int_equal(st, want);
    assert_true((c != NULL) == (want == KVS_OK));
    return c;
}

static void test_round_trip(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    kvs_tier *t = open_mem(1u << 30);
    kvs_status st[N_CHUNKS];
    t->methods->put(t, f.chunks, N_CHUNKS, st);
    for (size_t i = 0; i < N_CHUNKS; i++)
        assert_int_equal(st[i], KVS_OK);
    kvs_chunk *got[N_CHUNKS];
    t->methods->get(t, &ns, f.reqs, N_CHUNKS, got, st);
    for (size_t i = 0; i < N_CHUNKS; i++) {
        assert_int_equal(st[i], KVS_OK);
        assert_ptr_equal(got[i], f.chunks[i]); /* zero copy */
        test_check_payload(got[i], i);
        assert_memory_equal(kvs_chunk_tokens(got[i]), f.tokens + i * CHUNK_TOKENS,
                            CHUNK_TOKENS * sizeof(int32_t));
        kvs_chunk_release(got[i]);
    }
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    assert_string_equal(s.name, "mem");
    assert_int_equal(s.hits, N_CHUNKS);
    assert_int_equal(s.objects, N_CHUNKS);
    assert_int_equal(s.used_bytes, N_CHUNKS * f.chunks[0]->total_size);
    /* A second put of the same key is a no-op that succeeds. */
    put_one(t, f.chunks[0], KVS_OK);
    t->methods->stats(t, &s);
    assert_int_equal(s.objects, N_CHUNKS);
    t->methods->close(t);
    free_fixture(&f);
}

static void test_misses_prefix_and_tokens(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    kvs_tier *t = open_mem(1u << 30);
    kvs_status st[N_CHUNKS];
    t->methods->put(t, f.chunks, 3, st);
    put_one(t, f.chunks[4], KVS_OK);
    kvs_key keys[N_CHUNKS];
    for (size_t i = 0; i < N_CHUNKS; i++)
        keys[i] = f.chunks[i]->info.key;
    assert_int_equal(t->methods->contains_prefix(t, &ns, keys, N_CHUNKS), 3);
    assert_int_equal(t->methods->contains_prefix(t, &ns, keys + 4, 4), 1);
    assert_int_equal(t->methods->contains_prefix(t, &ns, keys + 3, 5), 0);
    kvs_key other_ns = ns;
    other_ns.b[5] ^= 1;
    assert_int_equal(t->methods->contains_prefix(t, &other_ns, keys, 3), 0);
    get_one(t, &f.reqs[3], KVS_ERR_NOT_FOUND);
    /* Asking for other tokens under a held key is refused. */
    kvs_chunk_request wrong = f.reqs[1];
    int32_t toks[CHUNK_TOKENS];
    memcpy(toks, wrong.tokens, sizeof toks);
    toks[2]++;
    wrong.tokens = toks;
    get_one(t, &wrong, KVS_ERR_CORRUPT);
    wrong.tokens = NULL; /* no token check asked */
    kvs_chunk_release(get_one(t, &wrong, KVS_OK));
    /* Remove, then remove again (absent is fine). */
    kvs_error err;
    assert_int_equal(t->methods->remove(t, &ns, &keys[1], &err), KVS_OK);
    assert_int_equal(t->methods->remove(t, &ns, &keys[1], &err), KVS_OK);
    assert_int_equal(t->methods->contains_prefix(t, &ns, keys, N_CHUNKS), 1);
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.corrupt, 1);
    assert_int_equal(s.objects, 3);
    t->methods->close(t);
    free_fixture(&f);
}

static void test_lru_order_and_capacity(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    const uint64_t sz = f.chunks[0]->total_size;
    kvs_tier *t = open_mem(3 * sz + sz / 2); /* room for three */
    for (size_t i = 0; i < 3; i++)
        put_one(t, f.chunks[i], KVS_OK);
    kvs_chunk_release(get_one(t, &f.reqs[0], KVS_OK)); /* 0 is now the most recent */
    put_one(t, f.chunks[3], KVS_OK);                   /* evicts 1, the least recent */
    get_one(t, &f.reqs[1], KVS_ERR_NOT_FOUND);
    kvs_chunk_release(get_one(t, &f.reqs[0], KVS_OK));
    put_one(t, f.chunks[4], KVS_OK); /* evicts 2 */
    get_one(t, &f.reqs[2], KVS_ERR_NOT_FOUND);
    kvs_chunk_release(get_one(t, &f.reqs[3], KVS_OK));
    kvs_chunk_release(get_one(t, &f.reqs[4], KVS_OK));
    kvs_chunk_release(get_one(t, &f.reqs[0], KVS_OK));
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    assert_int_equal(s.evictions, 2);
    assert_int_equal(s.objects, 3);
    assert_true(s.used_bytes <= s.capacity_bytes);
    assert_int_equal(s.used_bytes, 3 * sz);
    t->methods->close(t);

    /* A chunk larger than the whole tier is refused, not stored by evicting everything. */
    t = open_mem(sz / 2);
    put_one(t, f.chunks[0], KVS_ERR_FULL);
    t->methods->stats(t, &s);
    assert_int_equal(s.objects, 0);
    assert_int_equal(s.put_errors, 1);
    t->methods->close(t);
    free_fixture(&f);
}

/* The tier's only reference goes on eviction; the reader's keeps the bytes alive. With the
 * producer's reference released too, a bug here is a use-after-free that ASan reports. */
static void test_eviction_spares_readers(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    const uint64_t sz = f.chunks[0]->total_size;
    kvs_tier *t = open_mem(sz);
    put_one(t, f.chunks[0], KVS_OK);
    kvs_chunk *held = get_one(t, &f.reqs[0], KVS_OK);
    kvs_chunk_release(f.chunks[0]);
    f.chunks[0] = NULL;
    put_one(t, f.chunks[1], KVS_OK); /* evicts chunk 0 */
    get_one(t, &f.reqs[0], KVS_ERR_NOT_FOUND);
    test_check_payload(held, 0);
    kvs_chunk_release(held);
    /* Remove while held, likewise. */
    held = get_one(t, &f.reqs[1], KVS_OK);
    kvs_chunk_release(f.chunks[1]);
    f.chunks[1] = NULL;
    assert_int_equal(t->methods->remove(t, &ns, &f.reqs[1].key, NULL), KVS_OK);
    test_check_payload(held, 1);
    t->methods->close(t); /* and close */
    test_check_payload(held, 1);
    kvs_chunk_release(held);
    free_fixture(&f);
}

typedef struct worker_arg {
    kvs_tier *tier;
    fixture *f;
    unsigned seed;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 2000; i++) {
        size_t k = (a->seed + (unsigned)i * 7u) % N_CHUNKS;
        kvs_status st;
        kvs_chunk *c = NULL;
        if (i % 3 == 0) {
            a->tier->methods->put(a->tier, &a->f->chunks[k], 1, &st);
        } else {
            a->tier->methods->get(a->tier, &ns, &a->f->reqs[k], 1, &c, &st);
            if (c) {
                if (memcmp(kvs_chunk_payload(c), kvs_chunk_payload(a->f->chunks[k]),
                           c->info.payload_size) != 0)
                    return (void *)1;
                kvs_chunk_release(c);
            }
        }
        if (i % 50 == 0)
            a->tier->methods->remove(a->tier, &ns, &a->f->reqs[k].key, NULL);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    kvs_tier *t = open_mem(3 * f.chunks[0]->total_size);
    pthread_t th[4];
    worker_arg args[4];
    for (unsigned i = 0; i < 4; i++) {
        args[i] = (worker_arg){.tier = t, .f = &f, .seed = i};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    assert_true(s.used_bytes <= s.capacity_bytes);
    assert_true(s.hits > 0);
    assert_true(s.evictions > 0);
    t->methods->close(t);
    for (size_t i = 0; i < N_CHUNKS; i++) /* only the fixture's references remain */
        assert_int_equal(atomic_load(&f.chunks[i]->refs), 1);
    free_fixture(&f);
}

static void test_bad_capacity(void **state)
{
    (void)state;
    kvs_tier *t = (kvs_tier *)1;
    kvs_error err;
    assert_int_equal(kvs_tier_mem_open(0, &t, &err), KVS_ERR_INVALID);
    assert_null(t);
    assert_non_null(strstr(err.msg, "mem"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_misses_prefix_and_tokens),
        cmocka_unit_test(test_lru_order_and_capacity),
        cmocka_unit_test(test_eviction_spares_readers),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bad_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
