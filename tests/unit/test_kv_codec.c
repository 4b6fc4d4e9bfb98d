/* The offload KV codecs (model/kv_codec.h): E4M3 values bit for bit (the format's corner
 * values, round to nearest even, saturation, every byte decoding and encoding back to
 * itself), int8 and fp8 rows within their stated error of f32 and f16 sources, all-zero
 * heads, rows of the size the library gives the quantized dtypes, and a gather then a
 * scatter through the CPU backend that quantizes on the way out and restores the blocks
 * to the decoded values on the way back. The AVX2 loops give the portable loops' bytes
 * exactly (this test forces the portable ones with KVSPILL_KERNELS=scalar and calls the
 * AVX2 ones directly). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvspill.h"
#include "model/backend.h"
#include "model/kernels.h"
#include "model/kv_codec.h"
#include "model/kv_codec_simd.h"
#include "tools/model_gen.h"
#include "model_fixture.h"

static void test_names(void **state)
{
    (void)state;
    kv_codec c = KV_CODEC_NONE;
    assert_int_equal(kv_codec_parse("int8", &c), 0);
    assert_int_equal(c, KV_CODEC_INT8);
    assert_int_equal(kv_codec_parse("fp8_e4m3", &c), 0);
    assert_int_equal(c, KV_CODEC_FP8);
    assert_string_equal(kv_codec_name(c), "fp8");
    assert_int_equal(kv_codec_parse("none", &c), 0);
    assert_int_equal(c, KV_CODEC_NONE);
    assert_int_equal(kv_codec_parse("int4", &c), -1);
}

static void test_fp8_values(void **state)
{
    (void)state;
    const struct { float x; uint8_t b; } v[] = {
        {0.0f, 0x00}, {-0.0f, 0x80}, {1.0f, 0x38}, {-1.0f, 0xb8}, {448.0f, 0x7e},
        {-448.0f, 0xfe}, {1000.0f, 0x7e}, {INFINITY, 0x7e}, {0x1p-6f, 0x08},
        {0x1p-9f, 0x01}, {0x7p-9f, 0x07}, {0x1p-11f, 0x00}, {0x1p-10f, 0x00}, {0x3p-10f, 0x02}, /* halves to even */
        {1.0625f, 0x38},  /* halfway between 1 and 1.125: to the even mantissa 0 */
        {1.1875f, 0x3a},  /* halfway between 1.125 and 1.25: to the even mantissa 2 */
        {240.0f, 0x77}, {0.5f, 0x30}, {3.0f, 0x44},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (kv_fp8_from_f32(v[i].x) != v[i].b)
            fail_msg("%g -> 0x%02x, want 0x%02x", v[i].x, kv_fp8_from_f32(v[i].x), v[i].b);
    assert_int_equal(kv_fp8_from_f32(NAN) & 0x7f, 0x7f);
    assert_true(isnan(kv_fp8_to_f32(0x7f)) && isnan(kv_fp8_to_f32(0xff)));
    assert_true(kv_fp8_to_f32(0x7e) == 448.0f && kv_fp8_to_f32(0x01) == 0x1p-9f);
    for (int b = 0; b < 256; b++)
        if ((b & 0x7f) != 0x7f && kv_fp8_from_f32(kv_fp8_to_f32((uint8_t)b)) != b)
            fail_msg("byte 0x%02x does not survive decode and encode", b);
}

enum { HEADS = 3, DIM = 64, ROWS = 37 };

/* Random rows with heads of very different magnitudes, and one all-zero head. */
static void fill(float *x, uint32_t seed)
{
    srand(seed);
    for (size_t r = 0; r < ROWS; r++)
        for (size_t h = 0; h < HEADS; h++)
            for (size_t d = 0; d < DIM; d++) {
                float u = (float)rand() / (float)RAND_MAX - 0.5f;
                float mag = h == 0 ? 1e-3f : h == 1 ? 1.0f : 300.0f;
                x[(r * HEADS + h) * DIM + d] = r == 5 && h == 1 ? 0.0f : u * mag;
            }
}

/* Every element within the codec's error: int8 half a step of the head's largest
 * magnitude, fp8 2^-4 of the value (normal) or half a subnormal step; plus, for an f16
 * cache, the rounding of the decoded value to f16 (2^-11 of it). */
static void check_row_error(kv_codec c, kv_dtype t, const float *x, const float *y)
{
    for (size_t r = 0; r < ROWS; r++)
        for (size_t h = 0; h < HEADS; h++) {
            const float *a = x + (r * HEADS + h) * DIM, *b = y + (r * HEADS + h) * DIM;
            float amax = 0;
            for (size_t d = 0; d < DIM; d++)
                amax = fmaxf(amax, fabsf(a[d]));
            for (size_t d = 0; d < DIM; d++) {
                float bound = c == KV_CODEC_INT8 ? amax / 254.0f
                                                 : fmaxf(fabsf(a[d]) * 0x1p-4f,
                                                         amax / 448.0f * 0x1p-10f);
                if (t == KV_F16)
                    bound += fabsf(b[d]) * 0x1p-11f;
                if (fabsf(a[d] - b[d]) > bound * 1.001f + 1e-30f)
                    fail_msg("%s row %zu head %zu [%zu]: %g decoded as %g (bound %g)",
                             kv_codec_name(c), r, h, d, a[d], b[d], bound);
            }
        }
}

static void round_trip(kv_codec c, kv_dtype t)
{
    float x[ROWS * HEADS * DIM], y[ROWS * HEADS * DIM];
    uint16_t h16[ROWS * HEADS * DIM], o16[ROWS * HEADS * DIM];
    fill(x, 7 + c);
    size_t row = kv_codec_row_bytes(c, t, HEADS, DIM);
    assert_int_equal(row, HEADS * (4 + DIM));
    uint8_t *enc = malloc(ROWS * row);
    if (t == KV_F16) {
        for (size_t i = 0; i < ROWS * HEADS * DIM; i++) {
            h16[i] = kern_f32_to_f16(x[i]);
            x[i] = kern_f16_to_f32(h16[i]); /* what the cache holds */
        }
        kv_codec_encode(c, t, h16, enc, ROWS, HEADS, DIM);
        kv_codec_decode(c, t, enc, o16, ROWS, HEADS, DIM);
        for (size_t i = 0; i < ROWS * HEADS * DIM; i++)
            y[i] = kern_f16_to_f32(o16[i]);
    } else {
        kv_codec_encode(c, t, x, enc, ROWS, HEADS, DIM);
        kv_codec_decode(c, t, enc, y, ROWS, HEADS, DIM);
    }
    check_row_error(c, t, x, y);
    /* Row 5's all-zero head: scale 0, zero values, zeros back. */
    float scale;
    memcpy(&scale, enc + 5 * row + 1 * sizeof(float), sizeof scale);
    assert_true(scale == 0.0f);
    for (size_t d = 0; d < DIM; d++)
        assert_true(y[(5 * HEADS + 1) * DIM + d] == 0.0f);
    free(enc);
}

static void test_int8_f32(void **state) { (void)state; round_trip(KV_CODEC_INT8, KV_F32); }
static void test_fp8_f32(void **state) { (void)state; round_trip(KV_CODEC_FP8, KV_F32); }
static void test_int8_f16(void **state) { (void)state; round_trip(KV_CODEC_INT8, KV_F16); }
static void test_fp8_f16(void **state) { (void)state; round_trip(KV_CODEC_FP8, KV_F16); }

/* The library sizes segments of its quantized dtypes as the codec writes rows. */
static void test_library_row_format(void **state)
{
    (void)state;
    const kvs_dtype lib[] = {KVS_DTYPE_INT8, KVS_DTYPE_FP8_E4M3};
    const kv_codec codecs[] = {KV_CODEC_INT8, KV_CODEC_FP8};
    for (int i = 0; i < 2; i++) {
        kvs_layout l = {.n_layers = 2, .n_kv_heads = 4, .head_dim = 128, .dtype = lib[i]};
        assert_int_equal(kvs_segment_bytes(&l, 256),
                         256 * kv_codec_row_bytes(codecs[i], KV_F16, 4, 128));
        kvs_layout f16 = l;
        f16.dtype = KVS_DTYPE_F16;
        assert_true(kvs_payload_bytes(&l, 256) * 100 < kvs_payload_bytes(&f16, 256) * 53);
    }
    assert_string_equal(kvs_dtype_name(KVS_DTYPE_INT8), "int8");
    assert_string_equal(kvs_dtype_name(KVS_DTYPE_FP8_E4M3), "fp8_e4m3");
}

/* Through the CPU backend: blocks -> int8 payload -> other blocks: the second cache holds
 * exactly the decoded values of the payload, and gathers back to the same payload. */
static void test_backend_transfer(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    test_mkdtemp(dir, "kv-codec");
    test_path(path, dir, "model.gguf");
    model_gen_params p = {.n_layer = 2, .n_embd = 64, .n_head = 4, .n_head_kv = 2,
                          .n_ff = 128, .n_ctx = 256, .rope_base = 10000.0f,
                          .type = GGML_TYPE_F32, .seed = 20261207};
    fixture_model fm = {0};
    backend *b = NULL;
    kv_cache *a = NULL, *z = NULL;
    model_error err = {{0}};
    if (model_gen_write(&p, path, NULL, NULL, &err) || gguf_open(path, &fm.gf, &err) ||
        model_load(fm.gf, &fm.m, &err) ||
        backend_create(BACKEND_CPU, fm.m, 1, NULL, &b, &err) ||
        kv_contiguous_create(b, 2, 2, 16, 1, 64, KV_F32, &a, &err) ||
        kv_contiguous_create(b, 2, 2, 16, 1, 64, KV_F32, &z, &err))
        fail_msg("%s", err.msg);
    const uint32_t *ta = a->ops->block_table(a, 0), *tz = z->ops->block_table(z, 0);
    size_t row = kv_codec_row_bytes(KV_CODEC_INT8, KV_F32, 2, 16);
    size_t stride = 64 * row;
    uint8_t *pay = calloc(4, stride), *again = calloc(4, stride);
    /* Fill a's rows through a none scatter of random f32 values. */
    float *vals = malloc(4 * 64 * 32 * sizeof(float));
    srand(3);
    for (size_t i = 0; i < 4 * 64 * 32; i++)
        vals[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 4;
    uint64_t fence;
    kv_xfer fill_a = {ta, 0, 0, 64, vals, 64 * 32 * sizeof(float), false, true, KV_CODEC_NONE};
    kv_xfer out = {ta, 0, 3, 50, pay, stride, false, false, KV_CODEC_INT8};
    kv_xfer in = {tz, 0, 3, 50, pay, stride, false, true, KV_CODEC_INT8};
    kv_xfer back = {tz, 0, 3, 50, again, stride, false, false, KV_CODEC_INT8};
    if (b->ops->kv_transfer(b, a, &fill_a, 1, &fence, &err) ||
        b->ops->kv_transfer(b, a, &out, 1, &fence, &err) ||
        b->ops->kv_transfer(b, z, &in, 1, &fence, &err) ||
        b->ops->kv_transfer(b, z, &back, 1, &fence, &err))
        fail_msg("%s", err.msg);
    float dec[32];
    for (uint32_t s = 0; s < 4; s++)
        for (uint32_t pos = 3; pos < 50; pos++) {
            kv_codec_decode(KV_CODEC_INT8, KV_F32, pay + s * stride + pos * row, dec, 1, 2, 16);
            uint32_t bt = z->block_tokens;
            const float *blk = (const float *)(s & 1 ? z->ops->v_block(z, s / 2, tz[pos / bt])
                                                     : z->ops->k_block(z, s / 2, tz[pos / bt]));
            assert_memory_equal(blk + (pos % bt) * 32, dec, sizeof dec);
        }
    assert_memory_equal(again, pay, 4 * stride);
    kv_xfer wide = out;
    wide.seg_stride = 47 * row - 1; /* rows [0, 50) do not fit */
    assert_int_equal(b->ops->kv_transfer(b, a, &wide, 1, &fence, &err), -1);
    assert_non_null(strstr(err.msg, "do not fit a segment"));
    free(vals);
    free(pay);
    free(again);
    kv_cache_destroy(a);
    kv_cache_destroy(z);
    backend_destroy(b);
    fixture_free(&fm);
    test_rmtree(dir);
}

/* Random f16 heads over the whole range (subnormals, zeros, large values): the AVX2 loops'
 * bytes and decoded halves equal the portable ones'. */
static void test_avx2_equals_portable(void **state)
{
    (void)state;
    if (!kern_get(KERN_AVX2)) {
        print_message("  no AVX2 and F16C here: nothing to compare\n");
        skip();
    }
    enum { N = 1024, H = 8 };
    uint16_t x[N * H], back_p[N * H], back_s[N * H];
    uint8_t enc_p[N * (4 + H)], q[N];
    srand(11);
    for (size_t i = 0; i < N * H; i++) {
        uint16_t v = (uint16_t)(rand() & 0xffff);
        if ((v & 0x7c00) == 0x7c00)
            v &= 0x83ff; /* no infinities or NaNs: a KV cache holds finite values */
        x[i] = i % 97 == 0 ? 0 : v;
    }
    for (int k = 0; k < 2; k++) {
        kv_codec c = k ? KV_CODEC_FP8 : KV_CODEC_INT8;
        /* N rows of one head of H values: each row is its own head, with its own scale. */
        kv_codec_encode(c, KV_F16, x, enc_p, N, 1, H);
        kv_codec_decode(c, KV_F16, enc_p, back_p, N, 1, H);
        for (size_t r = 0; r < N; r++) {
            float scale, inv, amax = kv_codec_amax_f16_avx2(x + r * H, H);
            memcpy(&scale, enc_p + r * (4 + H), sizeof scale);
            float top = k ? 448.0f : 127.0f;
            inv = amax > 0 && isfinite(top / amax) ? top / amax : 0;
            assert_true(scale == amax / top);
            kv_codec_encode_f16_avx2(c, x + r * H, inv, q, H);
            if (memcmp(q, enc_p + r * (4 + H) + 4, H))
                fail_msg("%s row %zu: AVX2 bytes differ", kv_codec_name(c), r);
            kv_codec_decode_f16_avx2(c, q, scale, back_s + r * H, H);
            if (memcmp(back_s + r * H, back_p + r * H, H * sizeof(uint16_t)))
                fail_msg("%s row %zu: AVX2 decode differs", kv_codec_name(c), r);
        }
    }
}

int main(void)
{
    setenv("KVSPILL_KERNELS", "scalar", 1); /* kv_codec_* run their portable loops */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),          cmocka_unit_test(test_fp8_values),
        cmocka_unit_test(test_int8_f32),       cmocka_unit_test(test_fp8_f32),
        cmocka_unit_test(test_int8_f16),       cmocka_unit_test(test_fp8_f16),
        cmocka_unit_test(test_library_row_format), cmocka_unit_test(test_backend_transfer),
        cmocka_unit_test(test_avx2_equals_portable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
