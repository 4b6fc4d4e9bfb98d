/* AVX2/FMA/F16C kernel set. F32/F16/BF16, Q8_0 and Q4_0 products run register tiles of
 * several weight rows × several tokens (kernels_tiled.h), so a weight vector is loaded and
 * converted once per tile of tokens and an activation vector once per tile of rows; a decode
 * step (one token) runs the rows × 1 tile. The caller keeps a chunk of rows in cache while
 * it walks the batch's tokens, so weights stream from memory once per batch. The K-quants
 * are in kernels_kquant_avx2.c. */
#include "model/kernels.h"
#include "model/kernels_avx2_inline.h"
#include "model/kernels_tiled.h"

#include <immintrin.h>
#include <math.h>

static inline __m256 load_f16x8(const void *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16x8(const void *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* The float types: each 8-value weight vector is loaded and converted once for FTOKS tokens,
 * each activation vector once for FROWS rows. 4 × 3 fills the 16 ymm registers: 12
 * accumulators (enough independent FMAs to cover their latency), 3 activations, 1 weight. */
#define FROWS 4
#define FTOKS 3

static inline __m256 vload_f32(const void *p) { return _mm256_loadu_ps((const float *)p); }

static inline float sload_f32(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

static inline float sload_bf16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return kern_bf16_to_f32(h);
}

typedef __m256 (*vload_fn)(const void *p);   /* 8 values */
typedef float (*sload_fn)(const uint8_t *p);  /* 1 value, for the tail of k */

static inline __attribute__((always_inline)) void
ftile(int R, int T, vload_fn lw, sload_fn sw, int wsize, vload_fn la, sload_fn sa, int asize,
      int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[FROWS][FTOKS];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 av[FTOKS];
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            av[t] = la(a + t * as + (size_t)i * asize);
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * ws + (size_t)i * wsize;
            if ((i * wsize) % 64 == 0) /* once per 64-byte line */
                _mm_prefetch((const char *)p + PREFETCH_BYTES, _MM_HINT_T0);
            __m256 wv = lw(p);
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++)
                acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
        }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++) {
            float s = hsum8(acc[r][t]);
            for (int l = i; l < k; l++)
                s += sw(w + r * ws + (size_t)l * wsize) * sa(a + t * as + (size_t)l * asize);
            y[t * ys + r] = s;
        }
}

/* Q8_0 and Q4_0: both loaded as 32 signed bytes per block (Q4_0 nibbles minus 8), so the
 * block's integer dot is exact for both. Per block, each row's bytes, |bytes| and scale
 * serve QTOKS tokens, each token's bytes and scale QROWS rows. 4 × 2 leaves two
 * accumulators in L1 (a load and a store per block each); 4 × 3 spilled more and measured
 * no faster. */
#define QROWS 4
#define QTOKS 2

static inline __m256i qload_q8_0(const uint8_t *blk)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
}

static inline __m256i qload_q4_0(const uint8_t *blk)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
                                   _mm256_set1_epi8(0x0f)); /* lows, then highs */
    return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
}

typedef __m256i (*qload_fn)(const uint8_t *blk);

static inline __attribute__((always_inline)) void
qtile(int R, int T, qload_fn load, int blk_bytes, int k, const uint8_t *w, size_t ws,
      const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m256 acc[QROWS][QTOKS];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int b = 0; b < k / KERN_Q8_BLOCK; b++) {
        __m256i xq[QTOKS];
        __m256 xd[QTOKS];
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++) {
            const kern_q8_block *x = (const kern_q8_block *)(const void *)(a + t * as) + b;
            xq[t] = _mm256_loadu_si256((const __m256i *)(const void *)x->q);
            xd[t] = _mm256_broadcast_ss(&x->d); /* a load, no shuffle */
        }
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + r * ws + (size_t)b * blk_bytes;
            _mm_prefetch((const char *)blk + PREFETCH_BYTES, _MM_HINT_T0);
            __m256i wq = load(blk);
            __m256i wabs = _mm256_sign_epi8(wq, wq);
            __m256 wd = _mm256_set1_ps(f16(blk));
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++) {
                /* |w|·(x with w's sign): unsigned × signed bytes, pairs fit in int16 */
                __m256i p = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xq[t], wq));
                __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(wd, xd[t]),
                                            acc[r][t]);
            }
        }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = hsum8(acc[r][t]);
}

KERN_TILED_GEMM(static, gemm_f32, FROWS, FTOKS, ftile, vload_f32, sload_f32, 4, vload_f32,
                sload_f32, 4)
KERN_TILED_GEMM(static, gemm_f16, FROWS, FTOKS, ftile, load_f16x8, f16, 2, load_f16x8, f16, 2)
KERN_TILED_GEMM(static, gemm_bf16, FROWS, FTOKS, ftile, load_bf16x8, sload_bf16, 2, vload_f32,
                sload_f32, 4)
KERN_TILED_GEMM(static, gemm_q8_0, QROWS, QTOKS, qtile, qload_q8_0, 34)
KERN_TILED_GEMM(static, gemm_q4_0, QROWS, QTOKS, qtile, qload_q4_0, 18)

void kern_avx2_act_f16(const float *x, uint16_t *out, int k)
{
    int i = 0;
    for (; i + 8 <= k; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < k; i++)
        out[i] = kern_f32_to_f16(x[i]);
}

void kern_avx2_attn_scores_f32(const float *q, const float *k, size_t stride, int n, int d,
                            float scale, float *scores)
{
    for (int i = 0; i < n; i++) {
        const float *kr = k + (size_t)i * stride;
        __m256 acc = _mm256_setzero_ps();
        int j = 0;
        for (; j + 8 <= d; j += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(kr + j), acc);
        float s = hsum8(acc);
        for (; j < d; j++)
            s += q[j] * kr[j];
        scores[i] = s * scale;
    }
}

void kern_avx2_attn_scores_f16(const float *q, const uint16_t *k, size_t stride, int n, int d,
                            float scale, float *scores)
{
    for (int i = 0; i < n; i++) {
        const uint16_t *kr = k + (size_t)i * stride;
        __m256 acc = _mm256_setzero_ps();
        int j = 0;
        for (; j + 8 <= d; j += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), load_f16x8(kr + j), acc);
        float s = hsum8(acc);
        for (; j < d; j++)
            s += q[j] * _cvtsh_ss(kr[j]);
        scores[i] = s * scale;
    }
}

void kern_avx2_attn_accum_f32(const float *w, const float *v, size_t stride, int n, int d,
                           float *out)
{
    int j = 0;
    for (; j + 8 <= d; j += 8) {
        __m256 acc = _mm256_loadu_ps(out + j);
        for (int i = 0; i < n; i++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(w[i]), _mm256_loadu_ps(v + (size_t)i * stride + j), acc);
        _mm256_storeu_ps(out + j, acc);
    }
    for (; j < d; j++)
        for (int i = 0; i < n; i++)
            out[j] += w[i] * v[(size_t)i * stride + j];
}

void kern_avx2_attn_accum_f16(const float *w, const uint16_t *v, size_t stride, int n, int d,
                           float *out)
{
    int j = 0;
    for (; j + 8 <= d; j += 8) {
        __m256 acc = _mm256_loadu_ps(out + j);
        for (int i = 0; i < n; i++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(w[i]), load_f16x8(v + (size_t)i * stride + j), acc);
        _mm256_storeu_ps(out + j, acc);
    }
    for (; j < d; j++)
        for (int i = 0; i < n; i++)
            out[j] += w[i] * _cvtsh_ss(v[(size_t)i * stride + j]);
}

void kern_avx2_swiglu(const float *gate, const float *up, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const kern_set kern_avx2_set = {
    .name = "avx2",
    .probe = &kern_avx2_probe,
    .gemm = {[KW_F32] = gemm_f32, [KW_F16] = gemm_f16, [KW_BF16] = gemm_bf16,
             [KW_Q8_0] = gemm_q8_0, [KW_Q4_0] = gemm_q4_0, [KW_Q4_K] = kern_avx2_gemm_q4_k,
             [KW_Q6_K] = kern_avx2_gemm_q6_k},
    .act_f16 = kern_avx2_act_f16,
    .act_q8 = kern_scalar_act_q8,
    .attn_scores_f32 = kern_avx2_attn_scores_f32,
    .attn_scores_f16 = kern_avx2_attn_scores_f16,
    .attn_accum_f32 = kern_avx2_attn_accum_f32,
    .attn_accum_f16 = kern_avx2_attn_accum_f16,
    .swiglu = kern_avx2_swiglu,
};
