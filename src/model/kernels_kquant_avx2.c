/* AVX2 products for Q4_K and Q6_K, as register tiles of 4 weight rows × 2 tokens
 * (kernels_tiled.h). Per super-block (256 values, 8 activation blocks of 32), each row's
 * scales are decoded once per tile, and each 32-byte vector of its quants is unpacked to
 * unsigned bytes once and multiplied against every token of the tile (maddubs/madd, exact
 * int32 sums), as the token's Q8 bytes are loaded once for the tile's rows. A decode step
 * (one token) runs the 4 × 1 tile. Every (row, token) result goes through the same
 * operations in the same order whatever the tile shape, so batching changes no bit. */
#include "model/kernels.h"
#include "model/kernels_avx2_inline.h"
#include "model/kernels_tiled.h"

#include <immintrin.h>

#define KROWS 4
#define KTOKS 2

static inline const kern_q8_block *act_blocks(const uint8_t *a, size_t as, int t)
{
    return (const kern_q8_block *)(const void *)(a + t * as);
}

/* Prefetches the lines of one super-block of bytes at distance PREFETCH_BYTES. */
static inline void prefetch_block(const uint8_t *blk, int bytes)
{
    for (int off = 0; off < bytes; off += 64)
        _mm_prefetch((const char *)blk + PREFETCH_BYTES + off, _MM_HINT_T0);
}

/* Q4_K: per pair of sub-blocks, 32 bytes whose low nibbles are the even sub-block and high
 * nibbles the odd one; a sub-block's sum is scaled by d·sc·dx, and its min term
 * dmin·m·dx·Σx (from the activation block's stored sum) collected apart. */
static inline __attribute__((always_inline)) void
q4k_tile(int R, int T, int blk_bytes, int k, const uint8_t *w, size_t ws, const uint8_t *a,
         size_t as, float *y, size_t ys)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[KROWS][KTOKS];
    float mins[KROWS][KTOKS];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps(), mins[r][t] = 0.0f;
    for (int sb = 0; sb < k / 256; sb++) {
        float dsc[KROWS][8], dmin[KROWS];
        int m[KROWS][8];
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + r * ws + (size_t)sb * blk_bytes;
            prefetch_block(blk, blk_bytes);
            float d = f16(blk);
            dmin[r] = f16(blk + 2);
            for (int j = 0; j < 8; j++) {
                int sc;
                kern_q4k_scale_min(blk + 4, j, &sc, &m[r][j]);
                dsc[r][j] = d * (float)sc;
            }
        }
        for (int c = 0; c < 4; c++) {
            _Pragma("GCC unroll 4")
            for (int r = 0; r < R; r++) {
                const uint8_t *blk = w + r * ws + (size_t)sb * blk_bytes;
                __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 16 + 32 * c));
                __m256i lo = _mm256_and_si256(q, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                _Pragma("GCC unroll 4")
                for (int t = 0; t < T; t++) {
                    const kern_q8_block *x = act_blocks(a, as, t) + 8 * sb + 2 * c;
                    __m256i p0 = dot_u8i8(lo, _mm256_loadu_si256((const __m256i *)(const void *)x[0].q));
                    __m256i p1 = dot_u8i8(hi, _mm256_loadu_si256((const __m256i *)(const void *)x[1].q));
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0),
                                                _mm256_set1_ps(dsc[r][2 * c] * x[0].d), acc[r][t]);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1),
                                                _mm256_set1_ps(dsc[r][2 * c + 1] * x[1].d), acc[r][t]);
                    mins[r][t] += dmin[r] * ((float)(m[r][2 * c] * x[0].sum) * x[0].d +
                                             (float)(m[r][2 * c + 1] * x[1].sum) * x[1].d);
                }
            }
        }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = hsum8(acc[r][t]) - mins[r][t];
}

/* Q6_K: each half of 128 values is four groups of 32 (one activation block each), a group's
 * 6-bit quants its 4 low bits from ql and 2 high bits from qh; (q − 32)·x is summed in
 * int16 pairs as q·x − 32·x (the token's 32·x part once per group for all rows), then
 * weighted by the int8 scales of the group's two halves of 16. */
static inline __attribute__((always_inline)) void
q6k_tile(int R, int T, int blk_bytes, int k, const uint8_t *w, size_t ws, const uint8_t *a,
         size_t as, float *y, size_t ys)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    const __m256i c32 = _mm256_set1_epi8(32);
    __m256 acc[KROWS][KTOKS];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int sb = 0; sb < k / 256; sb++) {
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++)
            prefetch_block(w + r * ws + (size_t)sb * blk_bytes, blk_bytes);
        for (int half = 0; half < 2; half++)
            for (int g = 0; g < 4; g++) {
                __m256i xq[KTOKS], x32[KTOKS];
                _Pragma("GCC unroll 4")
                for (int t = 0; t < T; t++) {
                    const kern_q8_block *x = act_blocks(a, as, t) + 8 * sb + 4 * half + g;
                    xq[t] = _mm256_loadu_si256((const __m256i *)(const void *)x->q);
                    x32[t] = _mm256_maddubs_epi16(c32, xq[t]);
                }
                _Pragma("GCC unroll 4")
                for (int r = 0; r < R; r++) {
                    const uint8_t *blk = w + r * ws + (size_t)sb * blk_bytes;
                    const uint8_t *ql = blk + 64 * half, *qh = blk + 128 + 32 * half;
                    const int8_t *sc = (const int8_t *)(blk + 192) + 8 * half;
                    float d = f16(blk + 208);
                    __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)qh);
                    __m256i l = _mm256_loadu_si256((const __m256i *)(const void *)(ql + (g & 1) * 32));
                    __m256i lo = _mm256_and_si256(_mm256_srli_epi16(l, (g >> 1) * 4), m4);
                    __m256i hb = _mm256_and_si256(_mm256_srli_epi16(h, 2 * g), m2);
                    __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
                    __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]),
                                                   _mm_set1_epi16(sc[2 * g]));
                    _Pragma("GCC unroll 4")
                    for (int t = 0; t < T; t++) {
                        const kern_q8_block *x = act_blocks(a, as, t) + 8 * sb + 4 * half + g;
                        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xq[t]), x32[t]);
                        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, s16)),
                                                    _mm256_set1_ps(d * x->d), acc[r][t]);
                    }
                }
            }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = hsum8(acc[r][t]);
}

KERN_TILED_GEMM(, kern_avx2_gemm_q4_k, KROWS, KTOKS, q4k_tile, 144)
KERN_TILED_GEMM(, kern_avx2_gemm_q6_k, KROWS, KTOKS, q6k_tile, 210)
