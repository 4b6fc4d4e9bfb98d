/* AVX-512 VNNI kernels for the 32-value block types (Q8_0, Q4_0) and the 8-bit activation
 * quantization. vpdpbusd multiplies unsigned by signed bytes, so weights are made
 * unsigned with an offset c (Q8_0: w + 128, by flipping the sign bit; Q4_0: the stored
 * nibble, c = 8), and the accumulator of each token starts at −c·(its lane's 4
 * activations): every int32 lane is then exact, with no large terms to cancel later.
 * Each 512-bit vector holds two blocks (lanes 0–7 the even block, 8–15 the odd one), so
 * one dpbusd, cvt and fma cover 64 values. Scales are gathered 16 blocks at a time (one
 * gather per row and per token) and spread to the pair's lanes with a permute, instead
 * of a scalar F16 load and broadcast per block. Tiles are 4 rows × 4 tokens as for the
 * float types; a decode step (one token) runs the 4 × 1 tile, and every (row, token)
 * result goes through the same operations whatever the tile shape. */
#include "model/kernels.h"
#include "model/kernels_tiled.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TILE 4
#define GROUP 16 /* blocks per scale gather */
/* Software prefetch distance along each row stream, in blocks: a tile reads 4 rows at
 * once, and the hardware prefetcher stops at every 4 KiB page of each. */
#define PREFETCH_BLOCKS 20

static inline __m512i pair(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Blocks blk and (when hi is all ones) the next one as unsigned bytes (value + offset). */
static inline __m512i load_q8_0(const uint8_t *blk, __mmask32 hi)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
    __m256i b = _mm256_maskz_loadu_epi8(hi, blk + 34 + 2);
    return _mm512_xor_si512(pair(a, b), _mm512_set1_epi8((char)0x80));
}

static inline __m512i load_q4_0(const uint8_t *blk, __mmask32 hi)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    __m128i b = _mm_maskz_loadu_epi8((__mmask16)hi, blk + 18 + 2);
    __m256i raw = _mm256_set_m128i(b, a);
    /* 128-bit lanes a, b, a>>4, b>>4 → a, a>>4, b, b>>4: values 0..15, then 16..31 */
    __m512i both = pair(raw, _mm256_srli_epi16(raw, 4));
    return _mm512_and_si512(_mm512_shuffle_i64x2(both, both, _MM_SHUFFLE(3, 1, 2, 0)),
                            _mm512_set1_epi8(0x0f));
}

typedef __m512i (*qload_fn)(const uint8_t *blk, __mmask32 hi);

static inline __attribute__((always_inline)) void
qtile(int R, int T, qload_fn load, int blk_bytes, int offset, int k, const uint8_t *w,
      size_t ws, const uint8_t *a, size_t as, float *y, size_t ys)
{
    const __m512i coff = _mm512_set1_epi8((char)offset);
    const __m512i wscale_at = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(blk_bytes));
    const __m512i xscale_at = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32((int)sizeof(kern_q8_block)));
    const __m512i lanes_of_pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const int nb = k / KERN_Q8_BLOCK;
    __m512 acc[TILE][TILE];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int b0 = 0; b0 < nb; b0 += GROUP) {
        int g = nb - b0 < GROUP ? nb - b0 : GROUP;
        __mmask16 gm = (__mmask16)((1u << g) - 1);
        __m512 wsc[TILE], xsc[TILE];
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            __m512i h = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), gm, wscale_at,
                                                    w + r * ws + (size_t)b0 * blk_bytes, 1);
            wsc[r] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h)); /* low 16 bits: the F16 */
        }
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            xsc[t] = _mm512_mask_i32gather_ps(
                _mm512_setzero_ps(), gm, xscale_at,
                &((const kern_q8_block *)(const void *)(a + t * as))[b0].d, 1);
        for (int p = 0; 2 * p < g; p++) {
            int b = b0 + 2 * p;
            __mmask32 hi = 2 * p + 1 < g ? (__mmask32)0xffffffffu : 0;
            __m512i at = _mm512_add_epi32(lanes_of_pair, _mm512_set1_epi32(2 * p));
            __m512i wq[TILE], xq[TILE], bias[TILE];
            __m512 wd[TILE], xd[TILE];
            _Pragma("GCC unroll 4")
            for (int r = 0; r < R; r++) {
                const uint8_t *blk = w + r * ws + (size_t)b * blk_bytes;
                _mm_prefetch((const char *)blk + PREFETCH_BLOCKS * blk_bytes, _MM_HINT_T0);
                _mm_prefetch((const char *)blk + PREFETCH_BLOCKS * blk_bytes + 64, _MM_HINT_T0);
                wq[r] = load(blk, hi);
                wd[r] = _mm512_permutexvar_ps(at, wsc[r]);
            }
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++) {
                const kern_q8_block *x = (const kern_q8_block *)(const void *)(a + t * as) + b;
                xq[t] = pair(_mm256_loadu_si256((const __m256i *)(const void *)x[0].q),
                             _mm256_maskz_loadu_epi8(hi, x[1].q));
                bias[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), coff, xq[t]));
                xd[t] = _mm512_permutexvar_ps(at, xsc[t]);
            }
            _Pragma("GCC unroll 4")
            for (int r = 0; r < R; r++)
                _Pragma("GCC unroll 4")
                for (int t = 0; t < T; t++) {
                    __m512i s = _mm512_dpbusd_epi32(bias[t], wq[r], xq[t]);
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                                _mm512_mul_ps(wd[r], xd[t]), acc[r][t]);
                }
        }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

KERN_TILED_GEMM(, kern_avx512_gemm_q8_0, TILE, TILE, qtile, load_q8_0, 34, 128)
KERN_TILED_GEMM(, kern_avx512_gemm_q4_0, TILE, TILE, qtile, load_q4_0, 18, 8)

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
