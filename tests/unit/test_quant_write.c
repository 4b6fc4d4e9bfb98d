/* f32 -> f16 / bf16 / q8_0 / q4_0 / q4_k / q6_k conversions used by the GGUF generator:
 * exact values and hand-decoded bytes, and quantize -> dequantize round trips (through the
 * kernels' dequantizer) with bounded error on Gaussian data and edge cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/kernels.h"
#include "tools/quant_write.h"
#include "testutil.h"

static void test_f16(void **state)
{
    assert_int_equal(quant_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(quant_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(quant_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(quant_f32_to_f16(65520.0f), 0x7C00); /* rounds up to inf */
    assert_int_equal(quant_f32_to_f16(1.0f / 3.0f), 0x3555);
    assert_int_equal(quant_f32_to_f16(ldexpf(1.0f, -24)), 0x0001); /* smallest subnormal */
    assert_int_equal(quant_f32_to_f16(ldexpf(1.0f, -26)), 0x0000);
    assert_int_equal(quant_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00); /* tie to even */
    assert_int_equal(quant_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3C02);
    assert_int_equal(quant_f32_to_f16(INFINITY), 0x7C00);
    assert_true((quant_f32_to_f16(NAN) & 0x7C00) == 0x7C00 && (quant_f32_to_f16(NAN) & 0x3FF));
}

static void test_bf16(void **state)
{
    assert_int_equal(quant_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(quant_f32_to_bf16(1.00390625f), 0x3F80); /* tie to even */
    assert_int_equal(quant_f32_to_bf16(1.01171875f), 0x3F82);
    assert_int_equal(quant_f32_to_bf16(-0.0f), 0x8000);
    assert_true((quant_f32_to_bf16(NAN) & 0x7F80) == 0x7F80 && (quant_f32_to_bf16(NAN) & 0x7F));
}

static void test_q8_0(void **state)
{
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = i < 32 ? (float)(i - 16) : 0.0f;
    uint8_t out[68];
    assert_int_equal(quant_row(GGML_TYPE_Q8_0, x, 64, out), 0);
    uint16_t d;
    memcpy(&d, out, 2);
    assert_int_equal(d, quant_f32_to_f16(16.0f / 127.0f));
    assert_int_equal((int8_t)out[2], -127);     /* x = -16 */
    assert_int_equal((int8_t)out[2 + 16], 0);   /* x = 0 */
    assert_int_equal((int8_t)out[2 + 31], 119); /* x = 15: 15 * 127 / 16 = 119.06 */
    memcpy(&d, out + 34, 2);
    assert_int_equal(d, 0); /* an all-zero block */
    assert_int_equal(quant_row(GGML_TYPE_Q8_0, x, 40, out), -1);
    assert_int_equal(quant_row(GGML_TYPE_Q4_K, x, 64, out), -1);
    uint16_t h[2];
    assert_int_equal(quant_row(GGML_TYPE_F16, x, 2, h), 0);
    assert_int_equal(h[0], 0xCC00); /* -16 */
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Values on Q4_0's grid: d = 0.5, q = j % 16 − 8 (the first value, −4, has the largest
 * magnitude and maps to −8), so the block is exact and its bytes are known. */
static void test_q4_0_bytes(void **state)
{
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = 0.5f * (float)(j % 16 - 8);
    uint8_t out[18];
    assert_int_equal(quant_row(GGML_TYPE_Q4_0, x, 32, out), 0);
    assert_int_equal(rd16(out), 0x3800); /* 0.5 */
    for (int j = 0; j < 16; j++) /* value j in the low nibble, value j + 16 in the high */
        assert_int_equal(out[2 + j], j | (j << 4));
    assert_int_equal(quant_row(GGML_TYPE_Q4_0, x, 31, out), -1);
}

/* A Q4_K super-block whose sub-block j is exactly a_j·q − mn_j with a_j = k_j/64 and
 * mn_j = m_j/8: then d = 2^-6 and dmin = 2^-3 (the largest k and m are 63) and the bytes
 * follow from the layout: the 12 scale bytes below were packed by hand from k and m. */
static void test_q4_k_bytes(void **state)
{
    static const int k[8] = {63, 1, 17, 32, 40, 5, 50, 33}, m[8] = {0, 63, 7, 20, 45, 3, 18, 60};
    static const uint8_t scales[12] = {0xBF, 0x01, 0xD1, 0xA0, 0x80, 0x3F, 0x47, 0xD4,
                                       0xD8, 0x35, 0x22, 0xC1};
    float x[256];
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 32; i++)
            x[32 * j + i] = (float)k[j] / 64.0f * (float)((i + j) % 16) - (float)m[j] / 8.0f;
    uint8_t out[144];
    assert_int_equal(quant_row(GGML_TYPE_Q4_K, x, 256, out), 0);
    assert_int_equal(rd16(out), 0x2400);     /* d = 2^-6 */
    assert_int_equal(rd16(out + 2), 0x3000); /* dmin = 2^-3 */
    assert_memory_equal(out + 4, scales, 12);
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        kern_q4k_scale_min(out + 4, j, &sc, &mn);
        assert_int_equal(sc, k[j]);
        assert_int_equal(mn, m[j]);
    }
    /* chunk c: sub-block 2c in the low nibbles, 2c + 1 in the high ones */
    assert_int_equal(out[16 + 0], 0x10);
    assert_int_equal(out[16 + 32], 0x32);
    assert_int_equal(out[16 + 127], 0x65);
    float y[256];
    kern_dequant_row(KW_Q4_K, out, y, 256);
    assert_memory_equal(x, y, sizeof x);
}

/* A Q6_K super-block of exact values d·sc_j·q with d = 2^-10 (the largest |sc| is 127);
 * every sub-block holds q = −32, the value of largest magnitude. Decoded by hand from ql,
 * qh and the scales as the format notes describe. */
static int q6_pattern(int p) { return p % 16 == 0 ? -32 : (p * 5 + 3) % 63 - 31; }

static void test_q6_k_bytes(void **state)
{
    static const int sc[16] = {127, -1, 5, -20, 64, 3, -100, 9, 1, 2, -3, 4, 50, -60, 70, 11};
    float x[256];
    for (int p = 0; p < 256; p++)
        x[p] = ldexpf((float)(sc[p / 16] * q6_pattern(p)), -10);
    uint8_t out[210];
    assert_int_equal(quant_row(GGML_TYPE_Q6_K, x, 256, out), 0);
    assert_int_equal(rd16(out + 208), 0x1400); /* d = 2^-10, stored last */
    for (int j = 0; j < 16; j++)
        assert_int_equal((int8_t)out[192 + j], sc[j]);
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *ql = out + 64 * h, *qh = out + 128 + 32 * h;
            int p = 128 * h + l;
            assert_int_equal(((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32, q6_pattern(p));
            assert_int_equal(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32, q6_pattern(p + 32));
            assert_int_equal(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32, q6_pattern(p + 64));
            assert_int_equal(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32, q6_pattern(p + 96));
        }
    float y[256];
    kern_dequant_row(KW_Q6_K, out, y, 256);
    for (int p = 0; p < 256; p++) /* == rather than bytes: q = 0 gives −0 in x */
        assert_true(x[p] == y[p]);
    assert_int_equal(quant_row(GGML_TYPE_Q6_K, x, 128, out), -1);
}

#define RT_N (256 * 64)

/* Standard normal values (Box–Muller over a splitmix sequence). */
static void gaussian(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i += 2) {
        uint64_t z[2];
        for (int k = 0; k < 2; k++) {
            uint64_t v = (seed += 0x9E3779B97F4A7C15ull);
            v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
            v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
            z[k] = v ^ (v >> 31);
        }
        double u1 = ((double)(z[0] >> 11) + 1.0) / 9007199254740993.0, u2 = (double)(z[1] >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(2.0 * M_PI * u2));
    }
}

/* Quantizes and dequantizes n values (a whole number of blocks) of ggml type `type`. */
static void round_trip(uint32_t type, const float *x, float *y, size_t n)
{
    uint64_t ne[1] = {n}, bytes;
    assert_int_equal(ggml_tensor_nbytes(type, 1, ne, &bytes), 0);
    uint8_t *q = malloc(bytes);
    assert_non_null(q);
    assert_int_equal(quant_row(type, x, n, q), 0);
    kern_dequant_row((kern_wtype)kern_wtype_from_ggml(type), q, y, (int)n);
    free(q);
}

/* ‖x − y‖ / ‖x‖ over [from, to). */
static double rel_rms(const float *x, const float *y, size_t from, size_t to)
{
    double num = 0.0, den = 0.0;
    for (size_t i = from; i < to; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)x[i] * x[i];
    }
    return sqrt(num / den);
}

typedef struct rt_type {
    uint32_t type;
    double gauss_tol; /* relative RMS error on N(0, 1) data; measured in the comment */
} rt_type;

/* Measured relative RMS errors on N(0, 1) (this seed, 16384 values): Q8_0 0.0053,
 * Q4_0 0.080, Q4_K 0.072, Q6_K 0.017 (negative-only data: the same, Q4_K 0.041 as its
 * min absorbs the offset). Mapping the largest value to −8 only (no target search) gives
 * Q4_0 0.083 and Q6_K 0.018. Bounds sit about 10% above the measurements: a broken
 * layout or scale packing fails them by far (a swapped nibble order gives Q4_K 1.46). */
static const rt_type rt_types[] = {
    {GGML_TYPE_Q8_0, 0.006}, {GGML_TYPE_Q4_0, 0.088}, {GGML_TYPE_Q4_K, 0.079}, {GGML_TYPE_Q6_K, 0.019},
};

static void test_round_trip_gaussian(void **state)
{
    float *x = malloc(RT_N * sizeof *x), *y = malloc(RT_N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    gaussian(x, RT_N, 11);
    for (size_t t = 0; t < sizeof rt_types / sizeof rt_types[0]; t++) {
        round_trip(rt_types[t].type, x, y, RT_N);
        double e = rel_rms(x, y, 0, RT_N);
        print_message("  %-5s gaussian rel rms %.4f (tol %.3f)\n", ggml_type_name(rt_types[t].type), e,
                      rt_types[t].gauss_tol);
        assert_true(e <= rt_types[t].gauss_tol);
        /* negative-only data: the K-quant mins and the signed scales must cope */
        for (size_t i = 0; i < RT_N; i++)
            x[i] = -fabsf(x[i]);
        round_trip(rt_types[t].type, x, y, RT_N);
        e = rel_rms(x, y, 0, RT_N);
        print_message("  %-5s negative-only rel rms %.4f\n", ggml_type_name(rt_types[t].type), e);
        assert_true(e <= rt_types[t].gauss_tol);
        gaussian(x, RT_N, 11);
    }
    free(x);
    free(y);
}

static void test_round_trip_edges(void **state)
{
    static float x[512], y[512];
    for (size_t t = 0; t < sizeof rt_types / sizeof rt_types[0]; t++) {
        uint32_t type = rt_types[t].type;
        memset(x, 0, sizeof x);
        round_trip(type, x, y, 512);
        for (int i = 0; i < 512; i++)
            assert_true(y[i] == 0.0f);
        /* constants: one level of the grid, up to the f16 rounding of the scales. (Much
         * smaller constants make the K-quants' super-block d an f16 subnormal, coarser than
         * this: 1e-3 comes back 2.4% off in Q6_K, whose d is max/32/127. A format limit.) */
        static const float consts[] = {0.3f, -0.3f, -7.0f, 100.0f};
        for (size_t c = 0; c < sizeof consts / sizeof consts[0]; c++) {
            for (int i = 0; i < 512; i++)
                x[i] = consts[c];
            round_trip(type, x, y, 512);
            for (int i = 0; i < 512; i++)
                if (!(fabsf(y[i] - consts[c]) <= 1e-3f * fabsf(consts[c])))
                    fail_msg("%s: constant %g came back as %g", ggml_type_name(type), (double)consts[c], (double)y[i]);
        }
        /* one outlier of 10 among N(0, 0.01) values: the outlier survives within about one
         * step of its block's grid, and the other super-block (values 256..511) is untouched
         * by it. Small values sharing a scale with it are lost in every format. */
        gaussian(x, 512, 5);
        for (int i = 0; i < 512; i++)
            x[i] *= 0.01f;
        x[100] = 10.0f;
        round_trip(type, x, y, 512);
        assert_true(fabsf(y[100] - 10.0f) <= 0.05f * 10.0f);
        double e = rel_rms(x, y, 256, 512);
        print_message("  %-5s outlier %.4f (rel rms of the other super-block %.4f)\n",
                      ggml_type_name(type), (double)y[100], e);
        assert_true(e <= rt_types[t].gauss_tol * 1.5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q4_0_bytes),
        cmocka_unit_test(test_q4_k_bytes),
        cmocka_unit_test(test_q6_k_bytes),
        cmocka_unit_test(test_round_trip_gaussian),
        cmocka_unit_test(test_round_trip_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
