/* The object buffer pool: released buffers come back for the same size class, every
 * buffer is aligned, the bound on idle bytes holds (oldest dropped first), small buffers
 * are not kept, and threads sharing a pool never get the same buffer at once. */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "cache/buffer_pool.h"

#define MIB (1024u * 1024u)

static void test_reuse_by_class(void **state)
{
    kvs_buffer_pool pool;
    kvs_buffer_pool_init(&pool, 64 * MIB);
    uint8_t *a = kvs_buffer_pool_get(&pool, 5771264);
    assert_non_null(a);
    memset(a, 0xab, 5771264);
    kvs_buffer_pool_put(&pool, a);
    /* Same 64 KiB class (5771264 + 4096 rounds up to the same capacity): the same buffer. */
    uint8_t *b = kvs_buffer_pool_get(&pool, 5771264 + 4096);
    assert_ptr_equal(a, b);
    /* Another class: a fresh buffer, the idle one stays. */
    kvs_buffer_pool_put(&pool, b);
    uint8_t *c = kvs_buffer_pool_get(&pool, 2 * MIB);
    assert_ptr_not_equal(c, b);
    kvs_buffer_pool_stats st;
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_int_equal(st.cached, 1);
    kvs_buffer_pool_put(&pool, c);
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_int_equal(st.cached, 2);
    assert_int_equal(st.cached_bytes, 2 * MIB + 5832704); /* 5771264 rounded to 64 KiB */
    /* The most recently released buffer of a class is handed out first. */
    uint8_t *d = kvs_buffer_pool_get(&pool, 2 * MIB);
    assert_ptr_equal(d, c);
    kvs_buffer_pool_put(&pool, d);
    kvs_buffer_pool_destroy(&pool);
}

static void test_alignment(void **state)
{
    kvs_buffer_pool pool;
    kvs_buffer_pool_init(&pool, 16 * MIB);
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 65536, 256 * 1024 - 1, 256 * 1024,
                            300001, 3 * MIB + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int round = 0; round < 2; round++) { /* fresh, then (for big ones) recycled */
            uint8_t *p = kvs_buffer_pool_get(&pool, sizes[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % KVS_BUFFER_POOL_ALIGN, 0);
            memset(p, 0x5a, sizes[i] ? sizes[i] : 1); /* the whole size is usable */
            kvs_buffer_pool_put(&pool, p);
        }
    }
    assert_null(kvs_buffer_pool_get(&pool, SIZE_MAX - 10));
    kvs_buffer_pool_put(&pool, NULL);
    kvs_buffer_pool_destroy(&pool);
}

static void test_bound(void **state)
{
    kvs_buffer_pool pool;
    kvs_buffer_pool_init(&pool, 3 * MIB);
    uint8_t *p[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(p[i] = kvs_buffer_pool_get(&pool, MIB));
    for (int i = 0; i < 5; i++)
        kvs_buffer_pool_put(&pool, p[i]);
    kvs_buffer_pool_stats st;
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_int_equal(st.cached, 3);
    assert_int_equal(st.cached_bytes, 3 * MIB);
    /* The three kept are the last released, most recent first. */
    for (int i = 4; i >= 2; i--)
        assert_ptr_equal(kvs_buffer_pool_get(&pool, MIB), p[i]);
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_int_equal(st.cached, 0);
    for (int i = 2; i < 5; i++)
        kvs_buffer_pool_put(&pool, p[i]);
    /* Bigger than the whole bound: never kept, and does not flush the others. */
    uint8_t *huge = kvs_buffer_pool_get(&pool, 4 * MIB);
    kvs_buffer_pool_put(&pool, huge);
    /* Below the minimum: never kept. */
    uint8_t *small = kvs_buffer_pool_get(&pool, 8192);
    kvs_buffer_pool_put(&pool, small);
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_int_equal(st.cached, 3);
    assert_int_equal(st.cached_bytes, 3 * MIB);
    kvs_buffer_pool_destroy(&pool);
}

#define THREADS 4
#define ITERS 400

typedef struct worker {
    kvs_buffer_pool *pool;
    int id;
    int bad;
} worker;

/* Each thread stamps its buffer with its id and checks the stamp survived before release:
 * a buffer handed to two threads at once gets overwritten by the other. */
static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ITERS; i++) {
        size_t size = (i % 3 + 1) * 512 * 1024;
        uint8_t *p = kvs_buffer_pool_get(w->pool, size);
        if (!p) {
            w->bad++;
            continue;
        }
        memset(p, w->id, size);
        for (int spin = 0; spin < 50; spin++)
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (p[0] != w->id || p[size / 2] != w->id || p[size - 1] != w->id)
            w->bad++;
        kvs_buffer_pool_put(w->pool, p);
    }
    return NULL;
}

static void test_threads(void **state)
{
    kvs_buffer_pool pool;
    kvs_buffer_pool_init(&pool, 4 * MIB); /* tight: exercises dropping under contention */
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){&pool, i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    kvs_buffer_pool_stats st;
    kvs_buffer_pool_stats_get(&pool, &st);
    assert_true(st.cached_bytes <= 4 * MIB);
    assert_true(st.cached >= 1);
    kvs_buffer_pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_by_class),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
