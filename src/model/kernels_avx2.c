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

/* Attention over a block of KV rows. A row's dot product is one chain of d/8 dependent FMAs
 * and the weighted sum one chain per 8 output lanes over n rows, so one row or one lane
 * group at a time waits on FMA latency; these run four rows' dot products, and eight lane
 * groups of the sum, side by side. Each score and output lane still adds its terms in the
 * one-row order, so results are bit-identical whichever way a block is split. */
#define ATTN_KERNELS(SFX, T, VLOAD, SLOAD)                                                   \
    static inline float attn_dot_tail_##SFX(const float *q, const T *kr, int j, int d,      \
                                            float s)                                        \
    {                                                                                       \
        for (; j < d; j++)                                                                  \
            s += q[j] * SLOAD(kr + j);                                                      \
        return s;                                                                           \
    }                                                                                       \
                                                                                            \
    void kern_avx2_attn_scores_##SFX(const float *q, const T *k, size_t stride, int n,      \
                                     int d, float scale, float *scores)                     \
    {                                                                                       \
        int dv = d / 8 * 8, i = 0;                                                          \
        for (; i + 4 <= n; i += 4) {                                                        \
            const T *k0 = k + (size_t)i * stride, *k1 = k0 + stride, *k2 = k1 + stride,     \
                    *k3 = k2 + stride;                                                      \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                     \
            for (int j = 0; j < dv; j += 8) {                                               \
                __m256 qv = _mm256_loadu_ps(q + j);                                         \
                a0 = _mm256_fmadd_ps(qv, VLOAD(k0 + j), a0);                                \
                a1 = _mm256_fmadd_ps(qv, VLOAD(k1 + j), a1);                                \
                a2 = _mm256_fmadd_ps(qv, VLOAD(k2 + j), a2);                                \
                a3 = _mm256_fmadd_ps(qv, VLOAD(k3 + j), a3);                                \
            }                                                                               \
            scores[i] = attn_dot_tail_##SFX(q, k0, dv, d, hsum8(a0)) * scale;               \
            scores[i + 1] = attn_dot_tail_##SFX(q, k1, dv, d, hsum8(a1)) * scale;           \
            scores[i + 2] = attn_dot_tail_##SFX(q, k2, dv, d, hsum8(a2)) * scale;           \
            scores[i + 3] = attn_dot_tail_##SFX(q, k3, dv, d, hsum8(a3)) * scale;           \
        }                                                                                   \
        for (; i < n; i++) {                                                                \
            const T *kr = k + (size_t)i * stride;                                           \
            __m256 acc = _mm256_setzero_ps();                                               \
            for (int j = 0; j < dv; j += 8)                                                 \
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), VLOAD(kr + j), acc);          \
            scores[i] = attn_dot_tail_##SFX(q, kr, dv, d, hsum8(acc)) * scale;              \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    void kern_avx2_attn_accum_##SFX(const float *w, const T *v, size_t stride, int n, int d, \
                                    float *out)                                             \
    {                                                                                       \
        int j = 0;                                                                          \
        for (; j + 64 <= d; j += 64) {                                                      \
            __m256 acc[8];                                                                  \
            for (int c = 0; c < 8; c++)                                                     \
                acc[c] = _mm256_loadu_ps(out + j + 8 * c);                                  \
            for (int i = 0; i < n; i++) {                                                   \
                __m256 wv = _mm256_set1_ps(w[i]);                                           \
                const T *vr = v + (size_t)i * stride + j;                                   \
                for (int c = 0; c < 8; c++)                                                 \
                    acc[c] = _mm256_fmadd_ps(wv, VLOAD(vr + 8 * c), acc[c]);                \
            }                                                                               \
            for (int c = 0; c < 8; c++)                                                     \
                _mm256_storeu_ps(out + j + 8 * c, acc[c]);                                  \
        }                                                                                   \
        for (; j + 8 <= d; j += 8) {                                                        \
            __m256 acc = _mm256_loadu_ps(out + j);                                          \
            for (int i = 0; i < n; i++)                                                     \
                acc = _mm256_fmadd_ps(_mm256_set1_ps(w[i]), VLOAD(v + (size_t)i * stride + j), \
                                      acc);                                                 \
            _mm256_storeu_ps(out + j, acc);                                                 \
        }                                                                                   \
        for (; j < d; j++)                                                                  \
            for (int i = 0; i < n; i++)                                                     \
                out[j] += w[i] * SLOAD(v + (size_t)i * stride + j);                         \
    }

static inline float sload_kv_f32(const float *p)
{
    return *p;
}

static inline float sload_kv_f16(const uint16_t *p)
{
    return _cvtsh_ss(*p);
}

ATTN_KERNELS(f32, float, _mm256_loadu_ps, sload_kv_f32)
ATTN_KERNELS(f16, uint16_t, load_f16x8, sload_kv_f16)

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
