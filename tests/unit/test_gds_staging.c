/* The GPU staging buffer: its slot allocator (aligned first fit, thread-safe), a full
 * buffer (device chunks refused with KVS_ERR_FULL, reads into host memory instead), and
 * gets and puts of device chunks from several threads at once. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cache/gds_staging.h"
#include "gds_fixture.h"

static const kvs_layout layout = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                  .dtype = KVS_DTYPE_F16}; /* 16 KiB payloads at 16 tokens */
#define PAYLOAD (16u * 1024u)

static void slots_are_aligned_first_fit(void **state)
{
    (void)state;
    fake_gpu g;
    fake_gpu_init(&g);
    kvs_gds_staging *s = NULL;
    kvs_error err;
    assert_int_equal(kvs_gds_staging_open(&g.ops, 64 * 1024 + 100, &s, &err), KVS_OK);
    assert_int_equal(kvs_gds_staging_size(s), 64 * 1024); /* whole blocks */
    assert_int_equal(fake_cufile(0).buffers_registered, 1);
    kvs_gds_slot a, b, c, d;
    assert_true(kvs_gds_slot_alloc(s, 100, &a));
    assert_true(kvs_gds_slot_alloc(s, 5000, &b));
    assert_true(kvs_gds_slot_alloc(s, 4096, &c));
    assert_int_equal(a.offset, 0);
    assert_int_equal(a.size, 4096);
    assert_int_equal(b.offset, 4096);
    assert_int_equal(b.size, 8192);
    assert_int_equal(c.offset, 12288);
    assert_false(kvs_gds_slot_alloc(s, 48 * 1024 + 1, &d)); /* 48 KiB left */
    assert_false(kvs_gds_slot_alloc(s, 0, &d));
    kvs_gds_slot_free(s, &b);
    assert_true(kvs_gds_slot_alloc(s, 4096, &d)); /* the first gap that fits */
    assert_int_equal(d.offset, 4096);
    kvs_gds_slot e;
    assert_true(kvs_gds_slot_alloc(s, 48 * 1024, &e));
    assert_int_equal(e.offset, 16384);
    kvs_gds_slot_free(s, &a);
    kvs_gds_slot_free(s, &c);
    kvs_gds_slot_free(s, &d);
    kvs_gds_staging_unref(s); /* slot e still holds the buffer */
    assert_int_equal(atomic_load(&g.device_frees), 0);
    kvs_gds_slot_free(s, &e);
    assert_int_equal(atomic_load(&g.device_frees), 1);
    assert_int_equal(fake_cufile(0).buffers_registered, 0);
    assert_int_equal(fake_cufile(0).drivers_open, 0);
}

static void full_buffer_refuses_device_chunks_and_reads_into_host_memory(void **state)
{
    gds_env *e = *state;
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, 4 * PAYLOAD);
    gds_chain stored, held;
    gds_chain_init(&stored, 1, 2, 16, &layout);
    gds_chain_init(&held, 2, 5, 16, &layout);
    kvs_chunk *chunks[4];
    for (size_t i = 0; i < 2; i++)
        chunks[i] = gds_device_chunk(cache, &stored, i);
    gds_put(cache, chunks, 2);

    for (size_t i = 0; i < 4; i++) /* fill the staging buffer */
        chunks[i] = gds_device_chunk(cache, &held, i);
    kvs_chunk *extra = (kvs_chunk *)&held;
    kvs_error err;
    assert_int_equal(gds_try_device_chunk(cache, &held, 4, &extra, &err), KVS_ERR_FULL);
    assert_null(extra);
    assert_non_null(strstr(err.msg, "staging buffer"));
    fake_cufile(1);
    kvs_batch *b = gds_get(cache, &stored, 0, 2);
    assert_int_equal(kvs_batch_loaded(b), 2);
    for (size_t i = 0; i < 2; i++) {
        kvs_chunk *c = kvs_batch_chunk(b, i);
        assert_false(kvs_chunk_on_device(c));
        test_check_payload(c, gds_seed(i));
    }
    kvs_batch_free(b);
    assert_int_equal(fake_cufile(0).reads, 0); /* read with the POSIX path */

    kvs_chunk_release(chunks[3]); /* room again */
    assert_int_equal(gds_try_device_chunk(cache, &held, 4, &extra, &err), KVS_OK);
    kvs_chunk_release(extra);
    for (size_t i = 0; i < 3; i++)
        kvs_chunk_release(chunks[i]);

    gds_chain big; /* a payload larger than the whole buffer: 128 KiB */
    const kvs_layout wide = {.n_layers = 2, .n_kv_heads = 8, .head_dim = 64,
                             .dtype = KVS_DTYPE_F16};
    gds_chain_init(&big, 3, 1, 32, &wide);
    assert_int_equal(gds_try_device_chunk(cache, &big, 0, &extra, &err), KVS_ERR_FULL);
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

#define THREADS 4
#define ROUNDS 6
#define PER_ROUND 3

typedef struct worker {
    kvs_cache *cache;
    gds_chain chain;
    int device_puts, device_gets, failures;
} worker;

/* Each round puts the next chunks of its own chain (device chunks when there is room,
 * host chunks when not) and reads back everything put so far. */
static void *work(void *arg)
{
    worker *w = arg;
    for (size_t round = 0; round < ROUNDS; round++) {
        kvs_chunk *chunks[PER_ROUND];
        for (size_t j = 0; j < PER_ROUND; j++) {
            size_t i = round * PER_ROUND + j;
            kvs_error err;
            if (gds_try_device_chunk(w->cache, &w->chain, i, &chunks[j], &err) == KVS_OK)
                w->device_puts++;
            else
                chunks[j] = gds_host_chunk(&w->chain, i);
        }
        kvs_batch *b = NULL;
        kvs_error err;
        if (kvs_put_async(w->cache, chunks, PER_ROUND, &b, &err) != KVS_OK ||
            kvs_batch_wait(b, -1) != KVS_OK || kvs_batch_loaded(b) != PER_ROUND)
            w->failures++;
        kvs_batch_free(b);
        kvs_cache_flush(w->cache, -1, NULL);
        size_t have = (round + 1) * PER_ROUND;
        if (kvs_get_async(w->cache, &w->chain.ns, w->chain.reqs, have, &b, &err) != KVS_OK ||
            kvs_batch_wait(b, -1) != KVS_OK || kvs_batch_loaded(b) != have) {
            w->failures++;
        } else {
            for (size_t i = 0; i < have; i++) {
                kvs_chunk *c = kvs_batch_chunk(b, i);
                w->device_gets += kvs_chunk_on_device(c);
                kvs_chunk *want = gds_host_chunk(&w->chain, i);
                if (memcmp(kvs_chunk_payload(c), kvs_chunk_payload(want),
                           kvs_payload_bytes(&w->chain.layout, w->chain.per)) != 0)
                    w->failures++;
                kvs_chunk_release(want);
            }
        }
        kvs_batch_free(b);
    }
    return NULL;
}

static void threads_share_the_staging_buffer(void **state)
{
    gds_env *e = *state;
    /* Room for 12 payloads: fewer than the threads hold at peak, so some fall back. */
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, 12 * PAYLOAD);
    fake_cufile(1);
    static worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&workers[t], 0, sizeof workers[t]);
        workers[t].cache = cache;
        gds_chain_init(&workers[t].chain, 10 + (uint32_t)t, ROUNDS * PER_ROUND, 16, &layout);
        assert_int_equal(pthread_create(&threads[t], NULL, work, &workers[t]), 0);
    }
    int device_puts = 0, device_gets = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(workers[t].failures, 0);
        device_puts += workers[t].device_puts;
        device_gets += workers[t].device_gets;
    }
    printf("device chunks: %d of %d put, %d of %d loaded\n", device_puts,
           THREADS * ROUNDS * PER_ROUND, device_gets,
           THREADS * PER_ROUND * ROUNDS * (ROUNDS + 1) / 2);
    assert_true(device_puts > 0 && device_gets > 0);
    fake_cufile_record r = fake_cufile(0);
    assert_int_equal(r.unaligned, 0);
    assert_int_equal(r.unregistered, 0);
    assert_int_equal(r.misuse, 0);
    assert_int_equal(gds_tier_stats(cache, "gds").corrupt, 0);
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

static void *release_chunk(void *chunk)
{
    kvs_chunk_release(chunk);
    return NULL;
}

/* A device chunk released after its cache closed ends the staging buffer on the releasing
 * thread, which may never have used the GPU: it binds the GPU before cuFileBufDeregister
 * (cuFile calls on GPU memory need the device's context). */
static void last_release_on_another_thread_binds_the_gpu(void **state)
{
    gds_env *e = *state;
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, 4 * PAYLOAD);
    gds_chain ch;
    gds_chain_init(&ch, 4, 1, 16, &layout);
    kvs_chunk *chunk = gds_device_chunk(cache, &ch, 0);
    kvs_cache_close(cache);
    assert_int_equal(fake_cufile(0).buffers_registered, 1); /* the chunk's slot holds it */
    int binds = atomic_load(&e->g.binds);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_chunk, chunk), 0);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&e->g.binds), binds + 1);
    gds_check_released(&e->g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slots_are_aligned_first_fit),
        GDS_TEST(full_buffer_refuses_device_chunks_and_reads_into_host_memory),
        GDS_TEST(threads_share_the_staging_buffer),
        GDS_TEST(last_release_on_another_thread_binds_the_gpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
