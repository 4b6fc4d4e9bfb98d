/* AVX-512 VNNI kernels for the 32-value block types (Q8_0, Q4_0) and the 8-bit activation
 * quantization. vpdpbusd multiplies unsigned by signed bytes, so weights are made
 * unsigned with an offset c (Q8_0: w + 128, by flipping the sign bit; Q4_0: the stored
 * nibble, c = 8), and the accumulator of each token starts at −c·(its lane's 4
 * activations), computed once per activation block: every int32 lane is then exact, with
 * no large terms to cancel later. Tiles are 4 rows × 4 tokens as for the float types. */
#include "model/kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TILE 4

static inline float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

/* One weight block as unsigned bytes (value + offset), and its scale. */
static inline __m256i load_q8_0(const uint8_t *blk)
{
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(blk + 2)),
                            _mm256_set1_epi8((char)0x80));
}

static inline __m256i load_q4_0(const uint8_t *blk)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
                            _mm256_set1_epi8(0x0f)); /* values 0..15, then 16..31 */
}

typedef __m256i (*qload_fn)(const uint8_t *blk);

static inline __attribute__((always_inline)) void
qtile(int R, int T, qload_fn load, int blk_bytes, int offset, int k, const uint8_t *w,
      size_t ws, const uint8_t *a, size_t as, float *y, size_t ys)
{
    const __m256i coff = _mm256_set1_epi8((char)offset);
    __m256 acc[TILE][TILE];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int b = 0; b < k / KERN_Q8_BLOCK; b++) {
        __m256i wq[TILE], xq[TILE], bias[TILE];
        __m256 wd[TILE], xd[TILE];
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + r * ws + (size_t)b * blk_bytes;
            /* Rows are read as four interleaved short streams; fetching ~10 blocks ahead
             * hides the latency the hardware prefetcher leaves at each stream's start. */
            _mm_prefetch((const char *)blk + 10 * blk_bytes, _MM_HINT_T0);
            wq[r] = load(blk);
            wd[r] = _mm256_set1_ps(f16_at(blk));
        }
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++) {
            const kern_q8_block *x = (const kern_q8_block *)(const void *)(a + t * as) + b;
            xq[t] = _mm256_loadu_si256((const __m256i *)(const void *)x->q);
            bias[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                       _mm256_dpbusd_epi32(_mm256_setzero_si256(), coff, xq[t]));
            xd[t] = _mm256_set1_ps(x->d);
        }
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++) {
                __m256i s = _mm256_dpbusd_epi32(bias[t], wq[r], xq[t]);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s),
                                            _mm256_mul_ps(wd[r], xd[t]), acc[r][t]);
            }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++) {
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r][t]),
                                  _mm256_extractf128_ps(acc[r][t], 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            y[t * ys + r] = _mm_cvtss_f32(s);
        }
}

#define QUANT_GEMM(name, load, blk_bytes, offset)                                            \
    static void name##_4x4(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                           float *y, size_t ys)                                              \
    {                                                                                        \
        qtile(4, 4, load, blk_bytes, offset, k, w, ws, a, as, y, ys);                        \
    }                                                                                        \
    static void name##_4x1(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                           float *y, size_t ys)                                              \
    {                                                                                        \
        qtile(4, 1, load, blk_bytes, offset, k, w, ws, a, as, y, ys);                        \
    }                                                                                        \
    static void name##_1x4(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                           float *y, size_t ys)                                              \
    {                                                                                        \
        qtile(1, 4, load, blk_bytes, offset, k, w, ws, a, as, y, ys);                        \
    }                                                                                        \
    static void name##_1x1(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                           float *y, size_t ys)                                              \
    {                                                                                        \
        qtile(1, 1, load, blk_bytes, offset, k, w, ws, a, as, y, ys);                        \
    }                                                                                        \
    void name(int k, const uint8_t *w, size_t ws, int n_rows, const uint8_t *a, size_t as,   \
              int n_tok, float *y, size_t ys)                                                \
    {                                                                                        \
        for (int r = 0; r < n_rows;) {                                                       \
            int four = n_rows - r >= TILE;                                                   \
            const uint8_t *wr = w + (size_t)r * ws;                                          \
            int t = 0;                                                                       \
            for (; t + TILE <= n_tok; t += TILE)                                             \
                (four ? name##_4x4 : name##_1x4)(k, wr, ws, a + t * as, as, y + t * ys + r,  \
                                                 ys);                                        \
            for (; t < n_tok; t++)                                                           \
                (four ? name##_4x1 : name##_1x1)(k, wr, ws, a + t * as, as, y + t * ys + r,  \
                                                 ys);                                        \
            r += four ? TILE : 1;                                                            \
        }                                                                                    \
    }

QUANT_GEMM(kern_avx512_gemm_q8_0, load_q8_0, 34, 128)
QUANT_GEMM(kern_avx512_gemm_q4_0, load_q4_0, 18, 8)

/* Same results as kern_scalar_act_q8, bit for bit: the same scale, and roundf's
 * half-away-from-zero rounding done exactly (truncate, then step away when the dropped
 * fraction is at least one half). */
void kern_avx512_act_q8(const float *x, kern_q8_block *out, int k)
{
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    for (int b = 0; b < k / KERN_Q8_BLOCK; b++) {
        __m512 v[2] = {_mm512_loadu_ps(x + 32 * b), _mm512_loadu_ps(x + 32 * b + 16)};
        float amax = _mm512_reduce_max_ps(
            _mm512_max_ps(_mm512_and_ps(v[0], abs_mask), _mm512_and_ps(v[1], abs_mask)));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512 s = _mm512_mul_ps(v[h], _mm512_set1_ps(id));
            __m512 t = _mm512_roundscale_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m512 frac = _mm512_and_ps(_mm512_sub_ps(s, t), abs_mask);
            __mmask16 up = _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ);
            __m512 step = _mm512_or_ps(one, _mm512_andnot_ps(abs_mask, s)); /* ±1 */
            __m512i q = _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
            _mm_storeu_si128((__m128i *)(void *)(out[b].q + 16 * h), _mm512_cvtepi32_epi8(q));
            sum = _mm512_add_epi32(sum, q);
        }
        out[b].d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        out[b].sum = _mm512_reduce_add_epi32(sum);
    }
}
