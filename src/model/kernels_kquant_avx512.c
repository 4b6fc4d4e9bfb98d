/* AVX-512 VNNI product for Q4_K, as register tiles of 4 weight rows × 4 tokens
 * (kernels_tiled.h). Each row's super-block (256 values, 8 sub-blocks of 32) is unpacked
 * once per tile: its nibbles to unsigned bytes, one 512-bit vector per pair of sub-blocks
 * (lanes 0–7 the even sub-block, 8–15 the odd one, matching two Q8 activation blocks), and
 * its eight 6-bit scales and mins to d·sc and dmin·m with a few word operations. Every
 * token of the tile then reuses them: vpdpbusd gives exact int32 sums of q·x per lane,
 * which are scaled by d·sc·dx per sub-block, and the min term dmin·m·dx·Σx (from the
 * activation blocks' stored sums) is subtracted once per super-block. A decode step (one
 * token) runs the 4 × 1 tile, and every (row, token) result goes through the same
 * operations whatever the tile shape. */
#include "model/kernels.h"
#include "model/kernels_tiled.h"

#include <immintrin.h>
#include <string.h>

#define TILE 4
/* Software prefetch distance along each row stream (4 super-blocks of 144 bytes). */
#define PREFETCH_BYTES 576

static inline __m512i pair(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline float f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

/* d·sc and dmin·m of the 8 sub-blocks of super-block blk. The 12 scale bytes hold sc0..3
 * and m0..3 in the low 6 bits of bytes 0–3 and 4–7, whose top 2 bits are the high bits of
 * sc4..7 and m4..7; bytes 8–11 hold the low 4 bits of sc4..7 (low nibble) and m4..7. */
static inline void q4k_scales(const uint8_t *blk, __m256 *dsc, __m256 *dm)
{
    uint32_t u[3];
    memcpy(u, blk + 4, sizeof u);
    uint64_t sc = (uint64_t)(u[0] & 0x3f3f3f3fu) |
                  (uint64_t)((u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u)) << 32;
    uint64_t m = (uint64_t)(u[1] & 0x3f3f3f3fu) |
                 (uint64_t)(((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u)) << 32;
    *dsc = _mm256_mul_ps(_mm256_set1_ps(f16(blk)),
                         _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc))));
    *dm = _mm256_mul_ps(_mm256_set1_ps(f16(blk + 2)),
                        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)m))));
}

static inline __attribute__((always_inline)) void
q4k_tile(int R, int T, int blk_bytes, int k, const uint8_t *w, size_t ws, const uint8_t *a,
         size_t as, float *y, size_t ys)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m256i blk_at = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                              _mm256_set1_epi32((int)sizeof(kern_q8_block)));
    const __m512i lanes_of_pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc[TILE][TILE];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int sb = 0; sb < k / 256; sb++) {
        __m256 dsc[TILE], dm[TILE], xd[TILE], xs[TILE];
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + r * ws + (size_t)sb * blk_bytes;
            _mm_prefetch((const char *)blk + PREFETCH_BYTES, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + PREFETCH_BYTES + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + PREFETCH_BYTES + 128, _MM_HINT_T0);
            q4k_scales(blk, &dsc[r], &dm[r]);
        }
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++) {
            const kern_q8_block *x = (const kern_q8_block *)(const void *)(a + t * as) + 8 * sb;
            xd[t] = _mm256_i32gather_ps(&x->d, blk_at, 1);
            xs[t] = _mm256_mul_ps(xd[t], _mm256_cvtepi32_ps(_mm256_i32gather_epi32(
                                             (const int *)(const void *)&x->sum, blk_at, 1)));
        }
        /* the min terms: Σ_j dmin·m_j · dx_j·Σx_j, in the low 8 lanes */
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++)
                acc[r][t] = _mm512_sub_ps(acc[r][t],
                                          _mm512_zextps256_ps512(_mm256_mul_ps(dm[r], xs[t])));
        for (int c = 0; c < 4; c++) {
            const __m512i at = _mm512_add_epi32(lanes_of_pair, _mm512_set1_epi32(2 * c));
            __m512i wq[TILE];
            __m512 wd[TILE];
            _Pragma("GCC unroll 4")
            for (int r = 0; r < R; r++) {
                const uint8_t *blk = w + r * ws + (size_t)sb * blk_bytes;
                __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 16 + 32 * c));
                wq[r] = _mm512_and_si512(pair(q, _mm256_srli_epi16(q, 4)), m4);
                wd[r] = _mm512_permutexvar_ps(at, _mm512_zextps256_ps512(dsc[r]));
            }
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++) {
                const kern_q8_block *x =
                    (const kern_q8_block *)(const void *)(a + t * as) + 8 * sb + 2 * c;
                __m512i xq = pair(_mm256_loadu_si256((const __m256i *)(const void *)x[0].q),
                                  _mm256_loadu_si256((const __m256i *)(const void *)x[1].q));
                __m512 xdd = _mm512_permutexvar_ps(at, _mm512_zextps256_ps512(xd[t]));
                _Pragma("GCC unroll 4")
                for (int r = 0; r < R; r++) {
                    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[r], xq);
                    acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(wd[r], xdd),
                                                acc[r][t]);
                }
            }
        }
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

KERN_TILED_GEMM(, kern_avx512_gemm_q4_k, TILE, TILE, q4k_tile, 144)
