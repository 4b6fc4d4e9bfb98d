/* The paged KV cache: block accounting, reference counts, LRU reuse of freed blocks and
 * the eviction hook; the prefix-cache map over it; and the forward pass through it gives
 * the same logits as through the contiguous cache. */
#include "engine/kv_paged.h"
#include "engine/prefix_cache.h"
#include "model_fixture.h"

/* A pool of exactly n blocks of 1 layer, 1 head, head_dim 4, f32. */
static kv_paged *pool(uint32_t n, uint32_t n_seq)
{
    kv_paged *p;
    engine_error err = {{0}};
    uint64_t per_block = 2ull * KV_PAGED_BLOCK * 4 * sizeof(float);
    assert_int_equal(kv_paged_create(NULL, 1, 1, 4, KV_F32, n * per_block + per_block / 2,
                                     n_seq, 8, &p, &err), 0);
    assert_int_equal(kv_paged_n_blocks(p), n);
    return p;
}

static void test_accounting(void **state)
{
    (void)state;
    kv_paged *p = pool(8, 2);
    engine_error err = {{0}};
    assert_int_equal(kv_paged_n_free(p), 8);
    assert_int_equal(kv_paged_seq_reserve(p, 0, 40, &err), 0); /* 3 blocks */
    assert_int_equal(kv_paged_seq_len(p, 0), 3);
    assert_int_equal(kv_paged_n_free(p), 5);
    assert_int_equal(kv_paged_seq_reserve(p, 0, 48, &err), 0); /* still 3 */
    assert_int_equal(kv_paged_n_free(p), 5);
    /* seq 1 shares seq 0's first two blocks, then grows by itself. */
    const uint32_t *t0 = kv_paged_seq_table(p, 0);
    for (int i = 0; i < 2; i++) {
        kv_paged_ref(p, t0[i]);
        assert_int_equal(kv_paged_seq_append(p, 1, t0[i], &err), 0);
        assert_int_equal(kv_paged_refcount(p, t0[i]), 2);
    }
    assert_int_equal(kv_paged_seq_reserve(p, 1, 64, &err), 0);
    assert_int_equal(kv_paged_n_free(p), 3);
    /* Too many: refused with nothing taken. */
    assert_int_equal(kv_paged_seq_reserve(p, 0, 128, &err), -1);
    assert_non_null(strstr(err.msg, "blocks needed"));
    assert_int_equal(kv_paged_n_free(p), 3);
    /* More than a sequence may hold. */
    assert_int_equal(kv_paged_seq_reserve(p, 0, 8 * 16 + 1, &err), -1);
    uint32_t shared = t0[0];
    kv_paged_seq_free(p, 0);
    assert_int_equal(kv_paged_refcount(p, shared), 1);
    assert_int_equal(kv_paged_n_free(p), 4);
    kv_paged_seq_free(p, 1);
    assert_int_equal(kv_paged_n_free(p), 8);
    assert_int_equal(kv_paged_refcount(p, shared), 0);
    kv_cache_destroy(kv_paged_cache(p));
}

static uint32_t evicted[16], n_evicted;
static void on_evict(void *user, uint32_t block)
{
    (void)user;
    evicted[n_evicted++] = block;
}

static void test_lru_reuse(void **state)
{
    (void)state;
    kv_paged *p = pool(4, 1);
    kv_paged_set_evict(p, on_evict, NULL);
    n_evicted = 0;
    uint32_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = kv_paged_alloc(p);
    assert_int_equal(kv_paged_alloc(p), KV_PAGED_NONE);
    assert_int_equal(n_evicted, 4);
    /* Free in the order 2, 0, 3, 1: reuse must follow it. */
    kv_paged_unref(p, b[2]);
    kv_paged_unref(p, b[0]);
    kv_paged_unref(p, b[3]);
    kv_paged_unref(p, b[1]);
    /* Revive block 0 (a prefix hit): it leaves the free list. */
    kv_paged_ref(p, b[0]);
    assert_int_equal(kv_paged_n_free(p), 3);
    n_evicted = 0;
    assert_int_equal(kv_paged_alloc(p), b[2]);
    assert_int_equal(kv_paged_alloc(p), b[3]);
    assert_int_equal(kv_paged_alloc(p), b[1]);
    assert_int_equal(n_evicted, 3);
    assert_int_equal(evicted[0], b[2]);
    kv_cache_destroy(kv_paged_cache(p));
}

static void test_prefix_map(void **state)
{
    (void)state;
    kv_paged *p = pool(4, 1);
    prefix_cache *pc;
    engine_error err = {{0}};
    assert_int_equal(prefix_cache_create(p, &pc, &err), 0);
    int32_t toks[48];
    for (int i = 0; i < 48; i++)
        toks[i] = i * 7;
    kvs_key ns = {{1}}, ns2 = {{2}}, h[3], h2[3];
    assert_int_equal(prefix_hash_extend(&ns, toks, 40, h, 0), 2);
    assert_int_equal(prefix_hash_extend(&ns, toks, 48, h, 2), 3); /* incremental */
    kvs_key whole[3];
    assert_int_equal(prefix_hash_extend(&ns, toks, 48, whole, 0), 3);
    assert_memory_equal(h, whole, sizeof h);
    prefix_hash_extend(&ns2, toks, 48, h2, 0);
    assert_false(kvs_key_equal(&h[0], &h2[0]));

    uint32_t a = kv_paged_alloc(p), b = kv_paged_alloc(p);
    prefix_cache_put(pc, &h[0], a);
    prefix_cache_put(pc, &h[1], b);
    prefix_cache_put(pc, &h[1], a); /* already cached: ignored */
    assert_int_equal(prefix_cache_size(pc), 2);
    assert_int_equal(prefix_cache_get(pc, &h2[0]), KV_PAGED_NONE);
    assert_int_equal(prefix_cache_get(pc, &h[1]), b);
    assert_int_equal(kv_paged_refcount(p, b), 2);
    /* The leading run found, taking no reference: 2 of 3 (h[2] was never put), 0 when
     * the chain's first block is not there though a later one is. */
    assert_int_equal(prefix_cache_count_prefix(pc, h, 3), 2);
    assert_int_equal(prefix_cache_count_prefix(pc, h, 1), 1);
    assert_int_equal(prefix_cache_count_prefix(pc, h2, 3), 0);
    assert_int_equal(prefix_cache_count_prefix(pc, &h[1], 1), 1);
    assert_int_equal(prefix_cache_count_prefix(pc, (kvs_key[2]){h2[0], h[1]}, 2), 0);
    assert_int_equal(kv_paged_refcount(p, b), 2);
    kv_paged_unref(p, b);
    kv_paged_unref(p, b);
    kv_paged_unref(p, a);
    /* Freed but cached: still found; reused blocks are forgotten. */
    assert_int_equal(prefix_cache_get(pc, &h[0]), a);
    kv_paged_unref(p, a);
    for (int i = 0; i < 4; i++)
        (void)kv_paged_alloc(p);
    assert_int_equal(prefix_cache_size(pc), 0);
    assert_int_equal(prefix_cache_get(pc, &h[0]), KV_PAGED_NONE);
    assert_int_equal(prefix_cache_count_prefix(pc, h, 3), 0);
    prefix_cache_destroy(pc);
    kv_cache_destroy(kv_paged_cache(p));
}

/* Two sequences interleaved in batches, evaluated through both caches. */
static void eval_two(fwd_ctx *fc, kv_cache *kv, const int32_t *tok, uint32_t n, float *logits,
                     uint32_t vocab)
{
    model_error err = {{0}};
    int32_t bt[64];
    uint32_t pos[64], seq[64], rows[64];
    for (uint32_t start = 0; start < n; start += 24) {
        uint32_t m = n - start < 24 ? n - start : 24, nb = 0;
        for (uint32_t s = 0; s < 2; s++)
            for (uint32_t i = 0; i < m; i++) {
                bt[nb] = tok[(start + i + s * 5) % n];
                pos[nb] = start + i;
                seq[nb] = s;
                rows[nb] = nb;
                nb++;
            }
        fwd_batch b = {nb, bt, pos, seq, nb, rows};
        assert_int_equal(fwd_eval(fc, kv, &b, logits + (size_t)2 * start * vocab, &err), 0);
    }
}

static void test_forward_same_as_contiguous(void **state)
{
    (void)state;
    fixture_model fm;
    fixture_load(&fm, "tiny-f32");
    uint32_t n;
    int32_t *tok = fixture_ints("tiny-f32.long.tokens.txt", &n);
    n = 72;
    const model_hparams *hp = &fm.m->hp;
    fwd_ctx *fc;
    model_error err = {{0}};
    engine_error eerr = {{0}};
    assert_int_equal(fwd_create(fm.m, 2, NULL, &fc, &err), 0);
    for (int dt = 0; dt < 2; dt++) {
        kv_dtype dtype = dt ? KV_F32 : KV_F16;
        kv_cache *contig;
        assert_int_equal(kv_contiguous_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim,
                                              2, n, dtype, &contig, &err), 0);
        kv_paged *p;
        assert_int_equal(kv_paged_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim,
                                         dtype, 64ull << 20, 2, 16, &p, &eerr), 0);
        /* Scramble the free list so block tables are not the identity. */
        uint32_t held[7];
        for (int i = 0; i < 7; i++)
            held[i] = kv_paged_alloc(p);
        for (int i = 0; i < 7; i += 2)
            kv_paged_unref(p, held[i]);
        size_t sz = (size_t)2 * n * hp->n_vocab * sizeof(float);
        float *a = malloc(sz), *b = malloc(sz);
        assert_non_null(a);
        assert_non_null(b);
        eval_two(fc, contig, tok, n, a, hp->n_vocab);
        eval_two(fc, kv_paged_cache(p), tok, n, b, hp->n_vocab);
        assert_int_not_equal(kv_paged_seq_table(p, 0)[0], 0);
        assert_memory_equal(a, b, sz);
        free(a);
        free(b);
        for (int i = 1; i < 7; i += 2)
            kv_paged_unref(p, held[i]);
        kv_cache_destroy(kv_paged_cache(p));
        kv_cache_destroy(contig);
    }
    fwd_destroy(fc);
    free(tok);
    fixture_free(&fm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_lru_reuse),
        cmocka_unit_test(test_prefix_map),
        cmocka_unit_test(test_forward_same_as_contiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
