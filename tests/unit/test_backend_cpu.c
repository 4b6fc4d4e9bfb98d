/* The backend interface on the CPU: kinds by name, the CUDA kind in a build without CUDA,
 * KV transfers (a scatter then a gather returns the payload's bytes exactly, for ranges
 * that start and end inside a block, through a block table that is not the identity, and
 * touches nothing else), and eval through the backend giving fwd_eval's logits. The model
 * is generated (no reference data needed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/backend.h"
#include "tools/model_gen.h"
#include "model_fixture.h"

static char dir[4096];
static fixture_model fm;

static int setup(void **state)
{
    (void)state;
    test_mkdtemp(dir, "backend-cpu");
    char path[4096];
    test_path(path, dir, "model.gguf");
    model_gen_params p = {.n_layer = 2, .n_embd = 64, .n_head = 4, .n_head_kv = 2,
                          .n_ff = 128, .n_ctx = 256, .rope_base = 10000.0f,
                          .type = GGML_TYPE_F32, .seed = 20261129};
    model_error err = {{0}};
    if (model_gen_write(&p, path, NULL, NULL, &err) || gguf_open(path, &fm.gf, &err) ||
        model_load(fm.gf, &fm.m, &err))
        fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fixture_free(&fm);
    test_rmtree(dir);
    return 0;
}

static backend *cpu_backend(int threads)
{
    backend *b = NULL;
    model_error err = {{0}};
    if (backend_create(BACKEND_CPU, fm.m, threads, NULL, &b, &err) != 0)
        fail_msg("%s", err.msg);
    return b;
}

static void test_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"auto", "cpu", "cuda"};
    static const backend_kind kinds[] = {BACKEND_AUTO, BACKEND_CPU, BACKEND_CUDA};
    for (int i = 0; i < 3; i++) {
        backend_kind k = BACKEND_CPU;
        assert_int_equal(backend_kind_parse(names[i], &k), 0);
        assert_int_equal(k, kinds[i]);
        assert_string_equal(backend_kind_name(k), names[i]);
    }
    backend_kind k = BACKEND_CUDA;
    assert_int_equal(backend_kind_parse("gpu", &k), -1);
    assert_int_equal(backend_kind_parse("CPU", &k), -1);
    assert_int_equal(backend_kind_parse("", &k), -1);
    assert_int_equal(k, BACKEND_CUDA);
    assert_string_equal(backend_kind_name((backend_kind)7), "unknown");
}

static void test_device_name(void **state)
{
    (void)state;
    char want[128];
    for (int threads = 1; threads <= 2; threads++) {
        backend *b = cpu_backend(threads);
        assert_int_equal(b->kind, BACKEND_CPU);
        assert_ptr_equal(b->m, fm.m);
        snprintf(want, sizeof want, "cpu (%s, %d thread%s)", kern_get(KERN_AUTO)->name,
                 threads, threads == 1 ? "" : "s");
        assert_string_equal(b->device_name, want);
        backend_destroy(b);
    }
}

#ifndef KVSPILL_HAVE_CUDA
static void test_cuda_not_built(void **state)
{
    (void)state;
    backend *b = NULL;
    model_error err = {{0}};
    assert_int_equal(backend_create(BACKEND_CUDA, fm.m, 2, NULL, &b, &err), -1);
    assert_null(b);
    assert_string_equal(err.msg, "backend cuda: this build has no CUDA backend (nvcc was not "
                                 "found when it was configured)");
    /* auto falls back to the CPU without a word */
    assert_int_equal(backend_create(BACKEND_AUTO, fm.m, 2, NULL, &b, &err), 0);
    assert_int_equal(b->kind, BACKEND_CPU);
    assert_memory_equal(b->device_name, "cpu (", 5);
    backend_destroy(b);
}
#endif

/* A payload of n_pos positions from `start` on, laid out as kv_xfer says, with padding
 * between segments. */
typedef struct payload {
    uint8_t *bytes;
    size_t seg_stride, size;
} payload;

static payload payload_new(const kv_cache *kv, uint32_t n_pos)
{
    size_t row = kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    payload p = {.seg_stride = n_pos * row + 96};
    p.size = 2 * kv->n_layer * p.seg_stride;
    p.bytes = calloc(1, p.size);
    assert_non_null(p.bytes);
    return p;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void transfer(backend *b, kv_cache *kv, const kv_xfer *x, size_t n)
{
    uint64_t fence = 0;
    model_error err = {{0}};
    if (b->ops->kv_transfer(b, kv, x, n, &fence, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(b->ops->done(b, fence));
    assert_int_equal(b->ops->wait(b, fence, &err), 0);
}

/* Rows of the blocks outside [from, to) are still zero, those inside are not. */
static void check_blocks(kv_cache *kv, const uint32_t *table, uint32_t n_blocks, uint32_t from,
                         uint32_t to)
{
    size_t row = kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (uint32_t i = 0; i < n_blocks; i++)
            for (uint32_t r = 0; r < kv->block_tokens; r++) {
                uint32_t pos = i * kv->block_tokens + r;
                const uint8_t *k = (const uint8_t *)kv->ops->k_block(kv, l, table[i]) + r * row;
                const uint8_t *v = (const uint8_t *)kv->ops->v_block(kv, l, table[i]) + r * row;
                bool inside = pos >= from && pos < to;
                if (all_zero(k, row) == inside || all_zero(v, row) == inside)
                    fail_msg("layer %u position %u: %s", l, pos,
                             inside ? "not written" : "written outside the range");
            }
}

/* Scatters [from, to) of a random payload starting at position start (in two transfers of
 * one call), gathers the same range into a zeroed payload in one transfer, and compares. */
static void round_trip(kv_dtype dtype)
{
    backend *b = cpu_backend(2);
    const model_hparams *hp = &fm.m->hp;
    enum { N_BLOCKS = 6 };
    kv_cache *kv;
    model_error err = {{0}};
    assert_int_equal(kv_contiguous_create(b, hp->n_layer, hp->n_head_kv, hp->head_dim, 1,
                                          N_BLOCKS * 16, dtype, &kv, &err), 0);
    const uint32_t table[N_BLOCKS] = {4, 1, 5, 0, 3, 2};
    const uint32_t start = 16 + 3, from = 16 + 9, mid = 3 * 16 + 2, to = 4 * 16 + 11;
    const uint32_t n_pos = 5 * 16 - start;
    size_t row = kv_row_elems(kv) * kv_dtype_size(dtype);

    payload src = payload_new(kv, n_pos), dst = payload_new(kv, n_pos);
    test_fill_random(src.bytes, src.size, 42 + dtype);
    kv_xfer scatter[2] = {
        {table, start, from, mid, src.bytes, src.seg_stride, false, true, KV_CODEC_NONE},
        {table, start, mid, to, src.bytes, src.seg_stride, false, true, KV_CODEC_NONE},
    };
    transfer(b, kv, scatter, 2);
    check_blocks(kv, table, N_BLOCKS, from, to);

    kv_xfer gather = {table, start, from, to, dst.bytes, dst.seg_stride, false, false, KV_CODEC_NONE};
    transfer(b, kv, &gather, 1);
    for (uint32_t s = 0; s < 2 * kv->n_layer; s++) {
        const uint8_t *a = src.bytes + s * src.seg_stride, *g = dst.bytes + s * dst.seg_stride;
        size_t lo = (from - start) * row, hi = (to - start) * row;
        assert_true(all_zero(g, lo));
        assert_memory_equal(g + lo, a + lo, hi - lo);
        assert_true(all_zero(g + hi, dst.seg_stride - hi));
    }
    free(src.bytes);
    free(dst.bytes);
    kv_cache_destroy(kv);
    backend_destroy(b);
}

static void test_round_trip_f16(void **state)
{
    (void)state;
    round_trip(KV_F16);
}

static void test_round_trip_f32(void **state)
{
    (void)state;
    round_trip(KV_F32);
}

static void test_transfer_refused(void **state)
{
    (void)state;
    backend *b = cpu_backend(1);
    const model_hparams *hp = &fm.m->hp;
    kv_cache *kv;
    model_error err = {{0}};
    assert_int_equal(kv_contiguous_create(b, hp->n_layer, hp->n_head_kv, hp->head_dim, 1, 32,
                                          KV_F32, &kv, &err), 0);
    const uint32_t table[2] = {0, 1};
    payload p = payload_new(kv, 32);
    uint64_t fence;
    kv_xfer device = {table, 0, 0, 8, p.bytes, p.seg_stride, true, true, KV_CODEC_NONE};
    assert_int_equal(b->ops->kv_transfer(b, kv, &device, 1, &fence, &err), -1);
    assert_non_null(strstr(err.msg, "device memory"));
    kv_xfer before = {table, 4, 2, 8, p.bytes, p.seg_stride, false, true, KV_CODEC_NONE};
    assert_int_equal(b->ops->kv_transfer(b, kv, &before, 1, &fence, &err), -1);
    assert_non_null(strstr(err.msg, "[2, 8)"));
    kv_xfer too_long = {table, 0, 0, 32, p.bytes, p.seg_stride / 2, false, false, KV_CODEC_NONE};
    assert_int_equal(b->ops->kv_transfer(b, kv, &too_long, 1, &fence, &err), -1);
    assert_non_null(strstr(err.msg, "do not fit a segment"));
    free(p.bytes);
    kv_cache_destroy(kv);
    backend_destroy(b);
}

static void test_eval_same_as_fwd(void **state)
{
    (void)state;
    const model_hparams *hp = &fm.m->hp;
    enum { N = 40 };
    int32_t tok[N];
    uint32_t pos[N], seq[N], rows[N];
    for (uint32_t i = 0; i < N; i++) {
        tok[i] = (int32_t)((i * 7919u + 3) % hp->n_vocab);
        pos[i] = i;
        seq[i] = 0;
        rows[i] = i;
    }
    fwd_batch batch = {N, tok, pos, seq, N, rows};
    size_t n_logits = (size_t)N * hp->n_vocab;
    float *direct = malloc(n_logits * sizeof *direct);
    float *through = malloc(n_logits * sizeof *through);
    assert_non_null(direct);
    assert_non_null(through);
    model_error err = {{0}};

    fwd_ctx *fc;
    kv_cache *kv_direct, *kv_through;
    assert_int_equal(fwd_create(fm.m, 2, NULL, &fc, &err), 0);
    assert_int_equal(kv_contiguous_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim, 1, N,
                                          KV_F16, &kv_direct, &err), 0);
    assert_int_equal(fwd_eval(fc, kv_direct, &batch, direct, &err), 0);

    backend *b = cpu_backend(2);
    assert_int_equal(kv_contiguous_create(b, hp->n_layer, hp->n_head_kv, hp->head_dim, 1, N,
                                          KV_F16, &kv_through, &err), 0);
    assert_int_equal(b->ops->eval(b, kv_through, &batch, through, &err), 0);
    assert_memory_equal(direct, through, n_logits * sizeof *direct);

    kv_cache_destroy(kv_through);
    backend_destroy(b);
    kv_cache_destroy(kv_direct);
    fwd_destroy(fc);
    free(direct);
    free(through);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_device_name),
#ifndef KVSPILL_HAVE_CUDA
        cmocka_unit_test(test_cuda_not_built),
#endif
        cmocka_unit_test(test_round_trip_f16),
        cmocka_unit_test(test_round_trip_f32),
        cmocka_unit_test(test_transfer_refused),
        cmocka_unit_test(test_eval_same_as_fwd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
