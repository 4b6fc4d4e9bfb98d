/* KV transfers on the CUDA backend: gathers from a sequence's blocks into a layer-major
 * payload and scatters into another sequence's blocks (through a block table in reverse
 * order) are bit-exact and write nothing else, for payloads in
 * host memory and in device memory, F16 and F32 caches, ranges that start and end inside
 * blocks; a gather queued right after an eval reads what the eval wrote; fences complete
 * in order. The engine's kvs_gpu_ops checksum of a device payload equals XXH3 of its
 * bytes. */
#include <xxhash.h>

#include "engine/gpu_ops.h"
#include "gpu_fixture.h"

#define MAX_POS 96

static fixture_model fm;
static backend *gpu;

typedef struct range {
    uint32_t start, from, to;
} range;

/* Block size 16 (kv_contiguous): every range starts or ends inside a block. */
static const range ranges[] = {{0, 5, 41}, {16, 20, 47}, {32, 32, 48}, {3, 17, 18}, {0, 0, 96}};

static size_t row_bytes_of(const kv_cache *kv)
{
    return kv_row_elems(kv) * kv_dtype_size(kv->dtype);
}

static size_t seg_stride_for(const kv_cache *kv, const range *r)
{
    return ((r->to - r->start) * row_bytes_of(kv) + 4095) / 4096 * 4096;
}

/* The device bytes of position p of seq's layer/side row. */
static void *row_ptr(kv_cache *kv, uint32_t seq, uint32_t layer, int side, uint32_t p)
{
    const uint32_t *table = kv->ops->block_table(kv, seq);
    uint32_t bt = kv->block_tokens;
    uint8_t *blk = side ? kv->ops->v_block(kv, layer, table[p / bt])
                        : kv->ops->k_block(kv, layer, table[p / bt]);
    return blk + (size_t)(p % bt) * row_bytes_of(kv);
}

/* Every row of seq's positions [0, MAX_POS) as host bytes: [layer][side][pos][row]. */
static uint8_t *read_seq(kv_cache *kv, uint32_t seq)
{
    size_t rb = row_bytes_of(kv), n = 2 * (size_t)kv->n_layer * MAX_POS * rb;
    uint8_t *out = malloc(n), *o = out;
    assert_non_null(out);
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (int side = 0; side < 2; side++)
            for (uint32_t p = 0; p < MAX_POS; p++, o += rb)
                assert_int_equal(cudaMemcpy(o, row_ptr(kv, seq, l, side, p), rb,
                                            cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
}

static void fill_seq(kv_cache *kv, uint32_t seq, uint64_t seed)
{
    size_t rb = row_bytes_of(kv);
    uint8_t *bytes = malloc(rb);
    assert_non_null(bytes);
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (int side = 0; side < 2; side++)
            for (uint32_t p = 0; p < MAX_POS; p++) {
                test_fill_random(bytes, rb, seed++);
                assert_int_equal(cudaMemcpy(row_ptr(kv, seq, l, side, p), bytes, rb,
                                            cudaMemcpyHostToDevice), cudaSuccess);
            }
    /* A copy from pageable memory may return before its DMA is done, and the backend's
     * streams do not wait for the legacy default stream. */
    assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
    free(bytes);
}

static void transfer(kv_cache *kv, const uint32_t *table, const range *r, void *payload,
                     size_t stride, bool on_device, bool to_blocks)
{
    kv_xfer x = {table, r->start, r->from, r->to, payload, stride, on_device, to_blocks, KV_CODEC_NONE};
    uint64_t fence;
    model_error err = {{0}};
    if (gpu->ops->kv_transfer(gpu, kv, &x, 1, &fence, &err) || gpu->ops->wait(gpu, fence, &err))
        fail_msg("%s", err.msg);
    assert_true(gpu->ops->done(gpu, fence));
}

/* The host payload's rows [from, to) equal seq's rows (seq_bytes from read_seq). */
static void expect_payload(const kv_cache *kv, const range *r, const uint8_t *payload,
                           size_t stride, const uint8_t *seq_bytes)
{
    size_t rb = row_bytes_of(kv);
    for (uint32_t g = 0; g < 2 * kv->n_layer; g++)
        for (uint32_t p = r->from; p < r->to; p++)
            assert_memory_equal(payload + g * stride + (p - r->start) * rb,
                                seq_bytes + ((size_t)g * MAX_POS + p) * rb, rb);
}

/* Where position p lands in a sequence whose blocks are addressed in reverse order: at
 * the position q of its own (identity) table. */
static uint32_t reversed_position(const kv_cache *kv, uint32_t p)
{
    uint32_t bt = kv->block_tokens, n_blk = MAX_POS / bt;
    return (n_blk - 1 - p / bt) * bt + p % bt;
}

/* After a scatter of src's rows [from, to) through the reversed table, dst holds them at
 * their reversed positions and its own old rows elsewhere. */
static void expect_scattered(const kv_cache *kv, const range *r, const uint8_t *dst_now,
                             const uint8_t *dst_before, const uint8_t *src)
{
    size_t rb = row_bytes_of(kv);
    uint8_t *want = malloc(2 * (size_t)kv->n_layer * MAX_POS * rb);
    assert_non_null(want);
    memcpy(want, dst_before, 2 * (size_t)kv->n_layer * MAX_POS * rb);
    for (uint32_t g = 0; g < 2 * kv->n_layer; g++)
        for (uint32_t p = r->from; p < r->to; p++)
            memcpy(want + ((size_t)g * MAX_POS + reversed_position(kv, p)) * rb,
                   src + ((size_t)g * MAX_POS + p) * rb, rb);
    assert_memory_equal(dst_now, want, 2 * (size_t)kv->n_layer * MAX_POS * rb);
    free(want);
}

static void round_trip(kv_dtype dtype, bool on_device)
{
    kv_cache *kv = gpu_kv(gpu, fm.m, 2, MAX_POS, dtype);
    model_error err = {{0}};
    for (uint32_t s = 0; s < 2; s++)
        assert_int_equal(kv->ops->reserve(kv, s, MAX_POS, &err), 0);
    /* Gathers read sequence 0 in order; scatters write sequence 1's blocks in reverse. */
    const uint32_t *table0 = kv->ops->block_table(kv, 0), *table1 = kv->ops->block_table(kv, 1);
    uint32_t reversed[MAX_POS / 16];
    assert_int_equal(kv->block_tokens, 16);
    for (uint32_t b = 0; b < MAX_POS / 16; b++)
        reversed[b] = table1[MAX_POS / 16 - 1 - b];
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const range *r = &ranges[i];
        fill_seq(kv, 0, 1000 * i + 1);
        fill_seq(kv, 1, 1000 * i + 500);
        uint8_t *src = read_seq(kv, 0), *before = read_seq(kv, 1);
        size_t stride = seg_stride_for(kv, r), bytes = 2 * kv->n_layer * stride;
        uint8_t *host = calloc(1, bytes);
        assert_non_null(host);
        void *payload = host;
        if (on_device) {
            assert_int_equal(cudaMalloc(&payload, bytes), cudaSuccess);
            assert_int_equal(cudaMemset(payload, 0, bytes), cudaSuccess);
            assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
        }
        transfer(kv, table0, r, payload, stride, on_device, false);
        if (on_device) {
            assert_int_equal(cudaMemcpy(host, payload, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
            const kvs_gpu_ops *ops = engine_gpu_ops(gpu);
            assert_non_null(ops);
            uint64_t sum;
            assert_int_equal(ops->xxh3_64(ops->user, payload, bytes, &sum), 0);
            assert_true(sum == XXH3_64bits(host, bytes));
        }
        expect_payload(kv, r, host, stride, src);
        transfer(kv, reversed, r, payload, stride, on_device, true);
        uint8_t *after = read_seq(kv, 1);
        expect_scattered(kv, r, after, before, src);
        print_message("  kv=%s %s payload: [%u, %u) from start %u: gather and scatter exact\n",
                      dtype == KV_F16 ? "f16" : "f32", on_device ? "device" : "host", r->from,
                      r->to, r->start);
        if (on_device)
            cudaFree(payload);
        free(after);
        free(host);
        free(before);
        free(src);
    }
    kv_cache_destroy(kv);
}

static void test_host_payload_f16(void **state)
{
    (void)state;
    round_trip(KV_F16, false);
}

static void test_host_payload_f32(void **state)
{
    (void)state;
    round_trip(KV_F32, false);
}

static void test_device_payload_f16(void **state)
{
    (void)state;
    round_trip(KV_F16, true);
}

static void test_device_payload_f32(void **state)
{
    (void)state;
    round_trip(KV_F32, true);
}

/* A gather queued right after an eval (no synchronization in between) sees its K/V; a
 * batch of transfers gets one fence, and fences complete in order. */
static void test_gather_after_eval(void **state)
{
    (void)state;
    kv_cache *kv = gpu_kv(gpu, fm.m, 1, MAX_POS, KV_F16);
    int32_t tokens[50];
    gpu_tokens(tokens, 50, fm.m->hp.n_vocab, 9);
    uint32_t last = 49;
    float *logits = malloc(fm.m->hp.n_vocab * sizeof *logits);
    assert_non_null(logits);
    gpu_eval(gpu, kv, tokens, 50, 0, 0, &last, 1, logits);
    range halves[2] = {{0, 0, 25}, {0, 25, 50}};
    size_t stride = seg_stride_for(kv, &(range){0, 0, 50}), bytes = 2 * kv->n_layer * stride;
    uint8_t *host = calloc(1, bytes);
    assert_non_null(host);
    const uint32_t *table = kv->ops->block_table(kv, 0);
    kv_xfer x[2];
    for (int i = 0; i < 2; i++)
        x[i] = (kv_xfer){table, 0, halves[i].from, halves[i].to, host, stride, false, false, KV_CODEC_NONE};
    uint64_t f1, f2;
    model_error err = {{0}};
    if (gpu->ops->kv_transfer(gpu, kv, x, 2, &f1, &err) ||
        gpu->ops->kv_transfer(gpu, kv, x, 1, &f2, &err))
        fail_msg("%s", err.msg);
    assert_true(f2 > f1);
    if (gpu->ops->wait(gpu, f2, &err))
        fail_msg("%s", err.msg);
    assert_true(gpu->ops->done(gpu, f1));
    uint8_t *seq = read_seq(kv, 0);
    expect_payload(kv, &(range){0, 0, 50}, host, stride, seq);
    /* Positions 50.. were never written: still zero in the pool. */
    assert_true(seq[50 * row_bytes_of(kv)] == 0);
    assert_int_equal(gpu->ops->wait(gpu, f2 + 1, &err), -1);
    print_message("  %s\n", err.msg);
    free(seq);
    free(host);
    free(logits);
    kv_cache_destroy(kv);
}

static void test_bad_range_refused(void **state)
{
    (void)state;
    kv_cache *kv = gpu_kv(gpu, fm.m, 1, MAX_POS, KV_F16);
    uint8_t payload[64];
    kv_xfer x = {kv->ops->block_table(kv, 0), 10, 5, 20, payload, sizeof payload, false, false,
                 KV_CODEC_NONE};
    uint64_t fence;
    model_error err = {{0}};
    assert_int_equal(gpu->ops->kv_transfer(gpu, kv, &x, 1, &fence, &err), -1);
    print_message("  %s\n", err.msg);
    x.from = 10;
    assert_int_equal(gpu->ops->kv_transfer(gpu, kv, &x, 1, &fence, &err), -1);
    print_message("  %s\n", err.msg);
    /* A quantizing codec is the CPU backend's only: refused, naming it. */
    kv_xfer q = {kv->ops->block_table(kv, 0), 0, 0, 1, payload, sizeof payload, false, false,
                 KV_CODEC_INT8};
    assert_int_equal(gpu->ops->kv_transfer(gpu, kv, &q, 1, &fence, &err), -1);
    assert_non_null(strstr(err.msg, "int8"));
    kv_cache_destroy(kv);
}

static int setup(void **state)
{
    gpu_tmp_setup(state);
    gpu_gen_model(&fm, "xfer", GGML_TYPE_F16, MODEL_GEN_UNIFORM);
    gpu = gpu_cuda_backend(fm.m);
    return 0;
}

static int teardown(void **state)
{
    backend_destroy(gpu);
    fixture_free(&fm);
    return gpu_tmp_teardown(state);
}

int main(void)
{
    gpu_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_payload_f16),   cmocka_unit_test(test_host_payload_f32),
        cmocka_unit_test(test_device_payload_f16), cmocka_unit_test(test_device_payload_f32),
        cmocka_unit_test(test_gather_after_eval),  cmocka_unit_test(test_bad_range_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
