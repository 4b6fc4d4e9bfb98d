/* Kernels: number formats, dequantization of hand-built blocks, and every product of
 * every kernel set against a float64 reference over odd sizes; vector sets also against
 * the scalar set. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/kernels.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * 0x1p-24 * 2.0 - 1.0);
}
static uint8_t brand(void) { return (uint8_t)((frand() + 1.0f) * 128.0f); }

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void test_f16_conversion(void **state)
{
    (void)state;
    assert_int_equal(kern_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(kern_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(kern_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(kern_f32_to_f16(65520.0f), 0x7c00);        /* rounds up to infinity */
    assert_int_equal(kern_f32_to_f16(0x1p-24f), 0x0001);        /* smallest subnormal */
    assert_int_equal(kern_f32_to_f16(0x1p-25f), 0x0000);        /* tie to even: zero */
    assert_int_equal(kern_f32_to_f16(0.1f), 0x2e66);
    assert_int_equal(kern_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even: down */
    assert_int_equal(kern_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie to even: up */
    assert_true(isnan(kern_f16_to_f32(0x7e00)));
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue; /* NaN payloads */
        assert_int_equal(kern_f32_to_f16(kern_f16_to_f32((uint16_t)h)), h);
    }
    assert_true(kern_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(kern_bf16_to_f32(0xc040) == -3.0f);
}

static void test_dequant_q8_0_q4_0(void **state)
{
    (void)state;
    uint8_t q8[34], q4[18];
    float y[32];
    put16(q8, 0x3800); /* 0.5 */
    for (int j = 0; j < 32; j++)
        q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    kern_dequant_row(KW_Q8_0, q8, y, 32);
    for (int j = 0; j < 32; j++)
        assert_true(y[j] == 0.5f * (float)(j - 16));
    put16(q4, 0x4000); /* 2.0 */
    for (int j = 0; j < 16; j++)
        q4[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    kern_dequant_row(KW_Q4_0, q4, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == 2.0f * (float)(j - 8));
        assert_true(y[j + 16] == 2.0f * (float)(15 - j - 8));
    }
}

/* Packs 8 six-bit scales and mins the Q4_K way. */
static void pack_q4k_scales(uint8_t s[12], const int sc[8], const int m[8])
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

static void test_dequant_q4_k(void **state)
{
    (void)state;
    uint8_t b[144];
    int sc[8] = {1, 17, 33, 63, 5, 40, 62, 19}, m[8] = {0, 63, 7, 21, 48, 3, 30, 60};
    int q[256];
    put16(b, 0x3c00);     /* d = 1 */
    put16(b + 2, 0x3800); /* dmin = 0.5 */
    pack_q4k_scales(b + 4, sc, m);
    for (int i = 0; i < 256; i++)
        q[i] = (i * 7 + 3) & 15;
    /* chunk c of 64 values: byte l holds value 64c+l (low) and 64c+32+l (high) */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b[16 + 32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    float y[256];
    kern_dequant_row(KW_Q4_K, b, y, 256);
    for (int i = 0; i < 256; i++) {
        int j = i / 32;
        assert_true(y[i] == (float)(sc[j] * q[i]) - 0.5f * (float)m[j]);
    }
}

static void test_dequant_q6_k(void **state)
{
    (void)state;
    uint8_t b[210] = {0};
    int q[256];
    int8_t sc[16] = {1, -2, 3, -4, 5, 127, -128, 8, 9, 10, -11, 12, 13, 14, 15, -16};
    for (int i = 0; i < 256; i++)
        q[i] = (i * 13 + 5) & 63;
    /* half h, l < 32: values 128h + l + 32g (g = 0..3): low nibbles in ql (g 0,1 low,
     * g 2,3 high nibble of bytes l and l+32), two high bits in qh[l] at bit 2g. */
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++)
            for (int g = 0; g < 4; g++) {
                int v = q[128 * h + l + 32 * g];
                b[64 * h + l + 32 * (g & 1)] |= (uint8_t)((v & 15) << (4 * (g >> 1)));
                b[128 + 32 * h + l] |= (uint8_t)((v >> 4) << (2 * g));
            }
    memcpy(b + 192, sc, 16);
    put16(b + 208, 0x3400); /* 0.25 */
    float y[256];
    kern_dequant_row(KW_Q6_K, b, y, 256);
    for (int i = 0; i < 256; i++)
        assert_true(y[i] == 0.25f * (float)sc[i / 16] * (float)(q[i] - 32));
}

/* A random row of k values of type t (scales kept sane). */
static void random_row(kern_wtype t, uint8_t *row, int k)
{
    size_t bytes = (size_t)(k / (int)kern_wtype_block_elems(t)) * kern_wtype_block_bytes(t);
    for (size_t i = 0; i < bytes; i++)
        row[i] = brand();
    switch (t) {
    case KW_F32:
        for (int i = 0; i < k; i++) {
            float f = frand();
            memcpy(row + 4 * i, &f, 4);
        }
        break;
    case KW_F16:
        for (int i = 0; i < k; i++)
            put16(row + 2 * i, kern_f32_to_f16(frand()));
        break;
    case KW_BF16:
        for (int i = 0; i < k; i++)
            put16(row + 2 * i, (uint16_t)(0x3c00 + (brand() & 0xff) * 4 + (brand() & 1) * 0x8000));
        break;
    case KW_Q8_0:
    case KW_Q4_0:
        for (int b = 0; b < k / 32; b++)
            put16(row + b * kern_wtype_block_bytes(t), kern_f32_to_f16(0.01f + 0.05f * fabsf(frand())));
        break;
    case KW_Q4_K:
        for (int b = 0; b < k / 256; b++) {
            put16(row + 144 * b, kern_f32_to_f16(0.01f * fabsf(frand()) + 0.001f));
            put16(row + 144 * b + 2, kern_f32_to_f16(0.01f * fabsf(frand())));
        }
        break;
    case KW_Q6_K:
        for (int b = 0; b < k / 256; b++)
            put16(row + 210 * b + 208, kern_f32_to_f16(0.001f + 0.01f * fabsf(frand())));
        break;
    case KW_COUNT: break;
    }
}

/* The activation values a product really sees, after conversion. */
static void act_values(kern_act_format f, const uint8_t *a, const float *x, double *out, int k)
{
    for (int i = 0; i < k; i++) {
        if (f == KA_F32)
            out[i] = x[i];
        else if (f == KA_F16)
            out[i] = kern_f16_to_f32(((const uint16_t *)(const void *)a)[i]);
        else {
            const kern_q8_block *b = (const kern_q8_block *)(const void *)a + i / 32;
            out[i] = (double)b->d * b->q[i % 32];
        }
    }
}

static void check_gemm(const kern_set *ks, kern_wtype t, int k, int n_rows, int n_tok)
{
    size_t rb = (size_t)(k / (int)kern_wtype_block_elems(t)) * kern_wtype_block_bytes(t);
    kern_act_format f = kern_wtype_act(t);
    size_t ab = kern_act_row_bytes(f, k);
    uint8_t *w = malloc(rb * n_rows), *a = malloc(ab * n_tok);
    float *x = malloc(sizeof(float) * k * n_tok), *y = malloc(sizeof(float) * n_rows * n_tok);
    float *wr = malloc(sizeof(float) * k);
    double *av = malloc(sizeof(double) * k);
    for (int r = 0; r < n_rows; r++)
        random_row(t, w + r * rb, k);
    for (int i = 0; i < k * n_tok; i++)
        x[i] = frand() * (i % 5 == 0 ? 4.0f : 1.0f);
    for (int tk = 0; tk < n_tok; tk++) {
        if (f == KA_F32)
            memcpy(a + tk * ab, x + tk * k, ab);
        else if (f == KA_F16)
            ks->act_f16(x + tk * k, (uint16_t *)(void *)(a + tk * ab), k);
        else
            ks->act_q8(x + tk * k, (kern_q8_block *)(void *)(a + tk * ab), k);
    }
    ks->gemm[t](k, w, rb, n_rows, a, ab, n_tok, y, (size_t)n_rows);
    for (int tk = 0; tk < n_tok; tk++) {
        act_values(f, a + tk * ab, x + tk * k, av, k);
        for (int r = 0; r < n_rows; r++) {
            kern_dequant_row(t, w + r * rb, wr, k);
            double ref = 0.0, mag = 0.0;
            for (int i = 0; i < k; i++) {
                ref += wr[i] * av[i];
                mag += fabs(wr[i] * av[i]);
            }
            double got = y[(size_t)tk * n_rows + r];
            if (fabs(got - ref) > 2e-5 * mag + 1e-30)
                fail_msg("%s %s k=%d row %d tok %d: %.9g, expected %.9g", ks->name,
                         kern_wtype_name(t), k, r, tk, got, ref);
        }
    }
    free(w), free(a), free(x), free(y), free(wr), free(av);
}

/* The scalar set, then each vector set this CPU runs (NULL-free prefix of n_sets). */
static const kern_set *sets[3];
static int n_sets;

static void test_gemm_all_types_all_sets(void **state)
{
    (void)state;
    for (int s = 0; s < n_sets; s++)
        for (int t = 0; t < KW_COUNT; t++) {
            int be = (int)kern_wtype_block_elems((kern_wtype)t);
            /* 37 blocks: two full 16-block scale groups and an odd tail for the paired
             * (two blocks per vector) quantized tiles */
            int ks_[4] = {be == 1 ? 37 : be, be == 1 ? 64 : 3 * be, be == 1 ? 203 : 5 * be,
                          be == 1 ? 1061 : 37 * be};
            for (int i = 0; i < 4; i++)
                check_gemm(sets[s], (kern_wtype)t, ks_[i], 7, 5);
            /* every register-tile shape and its row and token tails (tiles are up to
             * 4 rows × 4 tokens: 1..9 rows and tokens cover full tiles plus each tail) */
            for (int rows = 1; rows <= 9; rows++)
                for (int toks = 1; toks <= 9; toks++)
                    check_gemm(sets[s], (kern_wtype)t, ks_[2], rows, toks);
        }
}

/* Each vector set's product of every type over odd row and token counts (every register
 * tile shape and its row and token tails): within rounding of the scalar set's result,
 * and bit for bit the product of each token alone (a tile of tokens changes no
 * arithmetic, so a prompt's logits do not depend on how it was batched). */
static void check_tiles_vs_scalar(const kern_set *ks, kern_wtype t, int k, int n_rows, int n_tok)
{
    size_t rb = (size_t)(k / (int)kern_wtype_block_elems(t)) * kern_wtype_block_bytes(t);
    kern_act_format f = kern_wtype_act(t);
    size_t ab = kern_act_row_bytes(f, k);
    uint8_t *w = malloc(rb * n_rows), *a = malloc(ab * n_tok);
    float *x = malloc(sizeof(float) * k);
    float *y = malloc(sizeof(float) * n_rows * n_tok), *ref = malloc(sizeof(float) * n_rows);
    float *alone = malloc(sizeof(float) * n_rows), *wr = malloc(sizeof(float) * k);
    for (int r = 0; r < n_rows; r++)
        random_row(t, w + r * rb, k);
    for (int tk = 0; tk < n_tok; tk++) {
        for (int i = 0; i < k; i++)
            x[i] = frand() * (i % 7 == 0 ? 3.0f : 1.0f);
        if (f == KA_F32)
            memcpy(a + tk * ab, x, ab);
        else if (f == KA_F16)
            kern_scalar_act_f16(x, (uint16_t *)(void *)(a + tk * ab), k);
        else
            kern_scalar_act_q8(x, (kern_q8_block *)(void *)(a + tk * ab), k);
    }
    ks->gemm[t](k, w, rb, n_rows, a, ab, n_tok, y, (size_t)n_rows);
    for (int tk = 0; tk < n_tok; tk++) {
        const uint8_t *at = a + tk * ab;
        kern_scalar_set.gemm[t](k, w, rb, n_rows, at, ab, 1, ref, (size_t)n_rows);
        ks->gemm[t](k, w, rb, n_rows, at, ab, 1, alone, (size_t)n_rows);
        double av[4096];
        act_values(f, at, (const float *)(const void *)at, av, k);
        for (int r = 0; r < n_rows; r++) {
            float got = y[(size_t)tk * n_rows + r];
            if (memcmp(&got, &alone[r], sizeof got) != 0)
                fail_msg("%s %s k=%d %d rows x %d tokens, row %d tok %d: %.9g batched, %.9g "
                         "alone", ks->name, kern_wtype_name(t), k, n_rows, n_tok, r, tk, got,
                         alone[r]);
            kern_dequant_row(t, w + r * rb, wr, k);
            double mag = 0.0;
            for (int i = 0; i < k; i++)
                mag += fabs(wr[i] * av[i]);
            if (fabs((double)got - ref[r]) > 2e-5 * mag + 1e-30)
                fail_msg("%s %s k=%d %d rows x %d tokens, row %d tok %d: %.9g, scalar %.9g",
                         ks->name, kern_wtype_name(t), k, n_rows, n_tok, r, tk, got, ref[r]);
        }
    }
    free(w), free(a), free(x), free(y), free(ref), free(alone), free(wr);
}

static void test_tiles_vs_scalar_and_batching(void **state)
{
    (void)state;
    static const int rows[] = {1, 3, 5, 7, 9, 13}, toks[] = {1, 2, 3, 5, 7};
    for (int s = 1; s < n_sets; s++)
        for (int t = 0; t < KW_COUNT; t++) {
            int be = (int)kern_wtype_block_elems((kern_wtype)t);
            int k = be == 1 ? 203 : (be == 32 ? 37 : 3) * be; /* odd block counts, a tail of k */
            for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
                for (size_t j = 0; j < sizeof toks / sizeof toks[0]; j++)
                    check_tiles_vs_scalar(sets[s], (kern_wtype)t, k, rows[i], toks[j]);
        }
}

static void test_act_conversions(void **state)
{
    (void)state;
    float x[96];
    for (int i = 0; i < 96; i++)
        x[i] = frand() * (float)(i + 1);
    x[40] = 0.0f;
    kern_q8_block q[3];
    kern_scalar_act_q8(x, q, 96);
    for (int b = 0; b < 3; b++) {
        float amax = 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[32 * b + j]));
        assert_float_equal(q[b].d, amax / 127.0f, amax / 127.0f * 1e-3);
        /* q rounds x/(amax/127); d is that scale rounded to F16, which moves d·q by up to
         * 127·|d − amax/127| beyond the half step */
        float step = amax / 127.0f, bound = 0.5f * step + 127.0f * fabsf(q[b].d - step);
        for (int j = 0; j < 32; j++) {
            assert_true(fabsf(x[32 * b + j] - q[b].d * q[b].q[j]) <= bound * 1.0001f + 1e-6f);
            sum += q[b].q[j];
        }
        assert_int_equal(q[b].sum, sum);
    }
    /* Every set quantizes exactly as the scalar one, ties included: with amax 127 the scale
     * is 1, so these values sit exactly halfway between two integers. */
    float ties[64];
    for (int i = 0; i < 64; i++)
        ties[i] = i < 32 ? (float)(i - 16) + (i % 2 ? 0.5f : -0.5f) : x[i];
    ties[0] = 127.0f;
    ties[1] = -126.5f;
    kern_q8_block r1[3], r2[3];
    for (int s = 0; s < n_sets; s++) {
        kern_scalar_act_q8(ties, r1, 64);
        sets[s]->act_q8(ties, r2, 64);
        kern_scalar_act_q8(x, r1 + 2, 32);
        sets[s]->act_q8(x, r2 + 2, 32);
        for (int b = 0; b < 3; b++) {
            assert_true(r1[b].d == r2[b].d);
            assert_int_equal(r1[b].sum, r2[b].sum);
            assert_memory_equal(r1[b].q, r2[b].q, sizeof r1[b].q);
        }
        assert_int_equal(r1[0].q[1], -127);
        assert_int_equal(r1[0].q[3], -13);
    }
    uint16_t h1[96], h2[96];
    for (int s = 0; s < n_sets; s++) {
        kern_scalar_act_f16(x, h1, 93);
        sets[s]->act_f16(x, h2, 93);
        assert_memory_equal(h1, h2, 93 * sizeof *h1);
    }
}

static void test_attention_kernels(void **state)
{
    (void)state;
    enum { N = 21, STRIDE = 160 };
    static float kf[N * STRIDE], q[STRIDE], w[N];
    static uint16_t kh[N * STRIDE];
    for (int i = 0; i < N * STRIDE; i++) {
        kh[i] = kern_f32_to_f16(frand());
        kf[i] = kern_f16_to_f32(kh[i]);
    }
    for (int i = 0; i < STRIDE; i++)
        q[i] = frand();
    for (int i = 0; i < N; i++)
        w[i] = fabsf(frand());
    int dims[4] = {16, 64, 20, 150}; /* 150: two 64-lane groups, two of 8, a scalar tail of 6 */
    for (int s = 0; s < n_sets; s++)
        for (int di = 0; di < 4; di++) {
            int d = dims[di];
            float s32[N], s16[N], o32[STRIDE] = {0}, o16[STRIDE] = {0};
            sets[s]->attn_scores_f32(q, kf, STRIDE, N, d, 0.25f, s32);
            sets[s]->attn_scores_f16(q, kh, STRIDE, N, d, 0.25f, s16);
            sets[s]->attn_accum_f32(w, kf, STRIDE, N, d, o32);
            sets[s]->attn_accum_f16(w, kh, STRIDE, N, d, o16);
            for (int i = 0; i < N; i++) {
                double ref = 0.0;
                for (int j = 0; j < d; j++)
                    ref += (double)q[j] * kf[i * STRIDE + j];
                assert_float_equal(s32[i], 0.25 * ref, 1e-5);
                assert_float_equal(s16[i], 0.25 * ref, 1e-5);
            }
            for (int j = 0; j < d; j++) {
                double ref = 0.0;
                for (int i = 0; i < N; i++)
                    ref += (double)w[i] * kf[i * STRIDE + j];
                assert_float_equal(o32[j], ref, 1e-5);
                assert_float_equal(o16[j], ref, 1e-5);
            }
            /* A block split into single rows (scores) or two calls (sums) gives the same
             * bits: the engine's results must not depend on where a KV block ends. */
            float one[N], part[STRIDE] = {0};
            for (int i = 0; i < N; i++)
                sets[s]->attn_scores_f16(q, kh + i * STRIDE, STRIDE, 1, d, 0.25f, one + i);
            assert_memory_equal(one, s16, sizeof one);
            sets[s]->attn_accum_f16(w, kh, STRIDE, 5, d, part);
            sets[s]->attn_accum_f16(w + 5, kh + 5 * STRIDE, STRIDE, N - 5, d, part);
            assert_memory_equal(part, o16, (size_t)d * sizeof *part);
            float g[37], u[37], o[37];
            for (int i = 0; i < 37; i++)
                g[i] = 4 * frand(), u[i] = frand();
            sets[s]->swiglu(g, u, o, 37);
            for (int i = 0; i < 37; i++)
                assert_float_equal(o[i], g[i] / (1 + exp(-g[i])) * u[i], 1e-6);
        }
}

static void test_norm_softmax_rope(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, wt[4] = {1, 1, 2, 0.5f}, out[4];
    kern_rmsnorm(x, wt, out, 4, 0.0f); /* rms = sqrt(30/4) */
    double r = sqrt(7.5);
    assert_float_equal(out[0], 1 / r, 1e-6);
    assert_float_equal(out[2], 6 / r, 1e-6);
    assert_float_equal(out[3], 2 / r, 1e-6);
    float p[3] = {0.0f, logf(2.0f), logf(3.0f)};
    kern_softmax(p, 3);
    assert_float_equal(p[0], 1 / 6.0, 1e-6);
    assert_float_equal(p[2], 0.5, 1e-6);
    /* two heads of 4, all rotated: pair 0 by pos·1, pair 1 by pos·base^(−1/2) */
    float v[8] = {1, 0, 0, 1, 1, 2, 3, 4};
    kern_rope_norm(v, 2, 4, 4, 3, 100.0f);
    assert_float_equal(v[0], cos(3.0), 1e-6);
    assert_float_equal(v[1], sin(3.0), 1e-6);
    assert_float_equal(v[2], -sin(0.3), 1e-6);
    assert_float_equal(v[3], cos(0.3), 1e-6);
    assert_float_equal(v[4], cos(3.0) - 2 * sin(3.0), 1e-6);
    assert_float_equal(v[7], 3 * sin(0.3) + 4 * cos(0.3), 1e-6);
    float u[4] = {1, 2, 3, 4}; /* n_rot 2: only the first pair turns */
    kern_rope_norm(u, 1, 4, 2, 5, 10000.0f);
    assert_float_equal(u[2], 3, 0);
    assert_float_equal(u[0], cos(5.0) - 2 * sin(5.0), 1e-6);
}

static void test_selection(void **state)
{
    (void)state;
    kern_kind k;
    assert_int_equal(kern_kind_parse("scalar", &k), 0);
    assert_int_equal(k, KERN_SCALAR);
    assert_int_equal(kern_kind_parse("sse9", &k), -1);
    assert_ptr_equal(kern_get(KERN_SCALAR), &kern_scalar_set);
    setenv("KVSPILL_KERNELS", "scalar", 1);
    assert_ptr_equal(kern_get(KERN_AUTO), &kern_scalar_set);
    unsetenv("KVSPILL_KERNELS");
    assert_non_null(kern_get(KERN_AUTO));
}

int main(void)
{
    sets[n_sets++] = &kern_scalar_set;
    const kern_kind vector[] = {KERN_AVX2, KERN_AVX512};
    for (size_t i = 0; i < sizeof vector / sizeof vector[0]; i++) {
        const kern_set *ks = kern_get(vector[i]);
        if (ks)
            sets[n_sets++] = ks;
        else
            print_message("%s kernels not available on this CPU: set not tested\n",
                          kern_kind_name(vector[i]));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_conversion),
        cmocka_unit_test(test_dequant_q8_0_q4_0),
        cmocka_unit_test(test_dequant_q4_k),
        cmocka_unit_test(test_dequant_q6_k),
        cmocka_unit_test(test_gemm_all_types_all_sets),
        cmocka_unit_test(test_tiles_vs_scalar_and_batching),
        cmocka_unit_test(test_act_conversions),
        cmocka_unit_test(test_attention_kernels),
        cmocka_unit_test(test_norm_softmax_rope),
        cmocka_unit_test(test_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
