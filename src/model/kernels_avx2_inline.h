/* Inline helpers of the AVX2/FMA/F16C kernel files (kernels_avx2.c, kernels_kquant_avx2.c):
 * included only by files compiled with those flags. */
#ifndef KVSPILL_MODEL_KERNELS_AVX2_INLINE_H
#define KVSPILL_MODEL_KERNELS_AVX2_INLINE_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

/* Software prefetch distance along each of a tile's 4 row streams: the hardware
 * prefetcher stops at every 4 KiB page of each (decode reads each weight once). */
#define PREFETCH_BYTES 640

/* Unsigned bytes w (< 128) times signed bytes a, as 8 int32 lanes. */
static inline __m256i dot_u8i8(__m256i w, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
}

#endif
