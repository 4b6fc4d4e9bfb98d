/* What the gds tests share (header-only): a chain of chunk keys, caches on a gds directory
 * with or without fake GPU operations, device chunks with known payloads, and put/get
 * helpers that wait. */
#ifndef KVSPILL_GDS_FIXTURE_H
#define KVSPILL_GDS_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "fake_gpu.h"
#include "kvspill.h"
#include "test_chunks.h"

#define GDS_MAX_CHUNKS 32
#define GDS_MAX_TOKENS 256

/* Chunks 0..n of one prompt: per tokens each, keys chained under ns. */
typedef struct gds_chain {
    kvs_key ns;
    uint32_t per;
    size_t n;
    kvs_layout layout;
    int32_t tokens[GDS_MAX_CHUNKS * GDS_MAX_TOKENS];
    kvs_key keys[GDS_MAX_CHUNKS];
    kvs_chunk_request reqs[GDS_MAX_CHUNKS];
} gds_chain;

static inline void gds_chain_init(gds_chain *c, uint32_t seed, size_t n, uint32_t per,
                                  const kvs_layout *layout)
{
    assert_true(n <= GDS_MAX_CHUNKS && per <= GDS_MAX_TOKENS);
    memset(c, 0, sizeof *c);
    c->ns.b[0] = 0x6d;
    c->ns.b[1] = (uint8_t)seed;
    c->per = per;
    c->n = n;
    c->layout = *layout;
    test_tokens(c->tokens, n * per, seed);
    for (size_t i = 0; i < n; i++) {
        const kvs_key *parent = i ? &c->keys[i - 1] : &c->ns;
        kvs_key_next(parent, c->tokens + i * per, per, &c->keys[i]);
        c->reqs[i] = (kvs_chunk_request){.key = c->keys[i], .chunk_index = (uint32_t)i,
                                         .tokens = c->tokens + i * per, .n_tokens = per};
    }
}

static inline const kvs_key *gds_parent(const gds_chain *c, size_t i)
{
    return i ? &c->keys[i - 1] : &c->ns;
}

/* The payload seed of chunk i. */
static inline uint64_t gds_seed(size_t i)
{
    return 9000 + i;
}

/* A test's fake GPU and fresh directory: cmocka's state, made by gds_setup and removed by
 * gds_teardown (cmocka_unit_test_setup_teardown). */
typedef struct gds_env {
    fake_gpu g;
    char dir[4096];
} gds_env;

static inline int gds_setup(void **state)
{
    gds_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    fake_gpu_init(&e->g);
    test_mkdtemp(e->dir, "gds");
    *state = e;
    return 0;
}

static inline int gds_teardown(void **state)
{
    gds_env *e = *state;
    test_rmtree(e->dir);
    free(e);
    return 0;
}

#define GDS_TEST(f) cmocka_unit_test_setup_teardown(f, gds_setup, gds_teardown)

/* After every cache is closed and every chunk released: all GPU and page-locked memory
 * freed, every cuFile registration undone, the driver closed, no misuse. */
static inline void gds_check_released(const fake_gpu *g)
{
    assert_int_equal(atomic_load(&g->device_allocs), atomic_load(&g->device_frees));
    assert_int_equal(atomic_load(&g->host_allocs), atomic_load(&g->host_frees));
    fake_cufile_record r = fake_cufile(0);
    assert_int_equal(r.buffers_registered, 0);
    assert_int_equal(r.handles_registered, 0);
    assert_int_equal(r.drivers_open, 0);
    assert_int_equal(r.misuse, 0);
}

/* A cache on dir: the gds tier, the mem tier when mem, GPU operations when gpu. */
static inline kvs_cache *gds_cache(const char *dir, const kvs_gpu_ops *gpu, bool mem,
                                   uint64_t staging_bytes)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = mem;
    cfg.max_local_cpu_size = 64u << 20;
    snprintf(cfg.gds_path, sizeof cfg.gds_path, "%s", dir);
    cfg.max_gds_size = 256u << 20;
    cfg.gpu = gpu;
    if (staging_bytes)
        cfg.cufile_buffer_size = staging_bytes;
    kvs_cache *cache = NULL;
    kvs_error err;
    if (kvs_cache_open(&cfg, &cache, &err) != KVS_OK)
        fail_msg("kvs_cache_open %s: %s", dir, err.msg);
    return cache;
}

/* The stats of the cache's tier called name. */
static inline kvs_tier_stats gds_tier_stats(kvs_cache *cache, const char *name)
{
    kvs_stats s;
    kvs_cache_stats(cache, &s);
    for (uint32_t t = 0; t < s.n_tiers; t++)
        if (!strcmp(s.tiers[t].name, name))
            return s.tiers[t];
    fail_msg("no tier %s", name);
    return s.tiers[0];
}

static inline kvs_chunk *gds_host_chunk(const gds_chain *c, size_t i)
{
    return test_chunk(&c->ns, gds_parent(c, i), (uint32_t)i, c->reqs[i].tokens, c->per,
                      &c->layout, gds_seed(i));
}

/* kvs_chunk_new_device for chunk i of the chain, with the payload of gds_host_chunk (the
 * fake GPU's device memory is host memory, so it is filled with memcpy); *out NULL unless
 * KVS_OK. */
static inline kvs_status gds_try_device_chunk(kvs_cache *cache, const gds_chain *c, size_t i,
                                              kvs_chunk **out, kvs_error *err)
{
    kvs_status st = kvs_chunk_new_device(cache, &c->ns, gds_parent(c, i), &c->keys[i],
                                         (uint32_t)i, c->reqs[i].tokens, c->per, &c->layout,
                                         out, err);
    if (st == KVS_OK) {
        kvs_chunk *h = gds_host_chunk(c, i);
        memcpy((void *)kvs_chunk_payload(*out), kvs_chunk_payload(h),
               kvs_payload_bytes(&c->layout, c->per));
        kvs_chunk_release(h);
    }
    return st;
}

static inline kvs_chunk *gds_device_chunk(kvs_cache *cache, const gds_chain *c, size_t i)
{
    kvs_chunk *out = NULL;
    kvs_error err;
    if (gds_try_device_chunk(cache, c, i, &out, &err) != KVS_OK)
        fail_msg("kvs_chunk_new_device %zu: %s", i, err.msg);
    assert_true(kvs_chunk_on_device(out));
    return out;
}

/* Puts chunks[0..n) (taking them over), waits, and checks every one was stored. */
static inline void gds_put(kvs_cache *cache, kvs_chunk **chunks, size_t n)
{
    kvs_batch *b = NULL;
    kvs_error err;
    if (kvs_put_async(cache, chunks, n, &b, &err) != KVS_OK)
        fail_msg("kvs_put_async: %s", err.msg);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kvs_batch_item_status(b, i), KVS_OK);
    kvs_batch_free(b);
    assert_int_equal(kvs_cache_flush(cache, -1, &err), KVS_OK);
}

/* Gets chunks [from, from + n) of the chain and waits; the batch, for the caller to free. */
static inline kvs_batch *gds_get(kvs_cache *cache, const gds_chain *c, size_t from, size_t n)
{
    kvs_batch *b = NULL;
    kvs_error err;
    if (kvs_get_async(cache, &c->ns, &c->reqs[from], n, &b, &err) != KVS_OK)
        fail_msg("kvs_get_async: %s", err.msg);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    return b;
}

#endif
