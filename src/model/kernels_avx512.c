/* AVX-512 kernel set, float weight types (F32, F16, BF16). Products run register tiles of
 * 4 weight rows × 4 tokens: each 16-value weight vector is loaded and converted once and
 * feeds four tokens, each activation vector feeds four rows, so prefill is bound by the
 * FMAs rather than by the F16/BF16 conversions. Every (row, token) result goes through the
 * same operations whatever the tile shape, so batching never changes the arithmetic.
 * The quantized types are in kernels_quant_avx512.c and Q4_K in kernels_kquant_avx512.c;
 * attention, SwiGLU and Q6_K reuse the AVX2 kernels (this CPU runs them too). */
#include "model/kernels.h"
#include "model/kernels_tiled.h"

#include <immintrin.h>

#define TILE 4
/* Software prefetch distance along each row stream: a tile reads 4 rows at once, and the
 * hardware prefetcher stops at every 4 KiB page of each (an F16 row of 2048 is a page). */
#define PREFETCH_BYTES 640

/* 16 values from element i of a row; lanes outside mask m read nothing and are 0. */
static inline __m512 load_f32(const uint8_t *p, int i, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, (const float *)(const void *)p + i);
}

static inline __m512 load_f16(const uint8_t *p, int i, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)(const void *)p + i));
}

static inline __m512 load_bf16(const uint8_t *p, int i, __mmask16 m)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)(const void *)p + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

typedef __m512 (*load_fn)(const uint8_t *p, int i, __mmask16 m);

/* R rows × T tokens; R and T are constants after inlining, so acc stays in registers. */
static inline __attribute__((always_inline)) void
tile(int R, int T, load_fn lw, int wsize, load_fn la, int k, const uint8_t *w, size_t ws,
     const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m512 acc[TILE][TILE];
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        __m512 wv[TILE], av[TILE];
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)w + r * ws + (size_t)i * wsize + PREFETCH_BYTES,
                         _MM_HINT_T0);
            wv[r] = lw(w + r * ws, i, m);
        }
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            av[t] = la(a + t * as, i, m);
        _Pragma("GCC unroll 4")
        for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 4")
            for (int t = 0; t < T; t++)
                acc[r][t] = _mm512_fmadd_ps(wv[r], av[t], acc[r][t]);
    }
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 4")
        for (int t = 0; t < T; t++)
            y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

KERN_TILED_GEMM(static, gemm_f32, TILE, TILE, tile, load_f32, 4, load_f32)
KERN_TILED_GEMM(static, gemm_f16, TILE, TILE, tile, load_f16, 2, load_f16)
KERN_TILED_GEMM(static, gemm_bf16, TILE, TILE, tile, load_bf16, 2, load_f32)

const kern_set kern_avx512_set = {
    .name = "avx512",
    .probe = &kern_avx2_probe,
    .gemm = {[KW_F32] = gemm_f32, [KW_F16] = gemm_f16, [KW_BF16] = gemm_bf16,
             [KW_Q8_0] = kern_avx512_gemm_q8_0, [KW_Q4_0] = kern_avx512_gemm_q4_0,
             [KW_Q4_K] = kern_avx512_gemm_q4_k, [KW_Q6_K] = kern_avx2_gemm_q6_k},
    .act_f16 = kern_avx2_act_f16,
    .act_q8 = kern_avx512_act_q8,
    .attn_scores_f32 = kern_avx2_attn_scores_f32,
    .attn_scores_f16 = kern_avx2_attn_scores_f16,
    .attn_accum_f32 = kern_avx2_attn_accum_f32,
    .attn_accum_f16 = kern_avx2_attn_accum_f16,
    .swiglu = kern_avx2_swiglu,
};
