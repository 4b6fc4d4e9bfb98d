/* The KV codec's head loops with AVX2 and F16C: eight values per step, with the same
 * arithmetic as the portable loops of kv_codec.c (round to nearest even everywhere). */
#include "model/kv_codec_simd.h"

#include <immintrin.h>

float kv_codec_amax_f16_avx2(const uint16_t *x, uint32_t n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (uint32_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        m = _mm256_max_ps(m, _mm256_and_ps(v, abs_mask));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

/* Eight int32 in [0, 255] or [-128, 127] to eight bytes at q. */
static inline void store8(__m256i v, uint8_t *q, int is_signed)
{
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    __m128i w = is_signed ? _mm_packs_epi32(lo, hi) : _mm_packus_epi32(lo, hi);
    w = is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64((__m128i *)q, w);
}

/* E4M3 bytes (as int32) of eight floats, as kv_fp8_from_f32 computes them. */
static inline __m256i fp8_of(__m256 v)
{
    __m256i bits = _mm256_castps_si256(v);
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(bits, 24), _mm256_set1_epi32(0x80));
    __m256i u = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 20), _mm256_set1_epi32(1));
    __m256i normal = _mm256_sub_epi32(
        _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7ffff)), odd), 20),
        _mm256_set1_epi32(120 << 3));
    __m256i sub = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_castsi256_ps(u), _mm256_set1_ps(0x1p9f)));
    /* u is below 2^31: signed compares order it as unsigned ones would */
    __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3c800000), u);
    __m256i is_sat = _mm256_cmpgt_epi32(u, _mm256_set1_epi32(0x43dfffff));
    __m256i is_nan = _mm256_cmpgt_epi32(u, _mm256_set1_epi32(0x7f800000));
    __m256i r = _mm256_blendv_epi8(normal, sub, is_sub);
    r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7e), is_sat);
    r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7f), is_nan);
    return _mm256_or_si256(r, sign);
}

void kv_codec_encode_f16_avx2(kv_codec c, const uint16_t *x, float inv, uint8_t *q, uint32_t n)
{
    const __m256 k = _mm256_set1_ps(inv);
    for (uint32_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), k);
        if (c == KV_CODEC_INT8) {
            __m256i t = _mm256_cvtps_epi32(v); /* MXCSR's default: to nearest even */
            t = _mm256_max_epi32(_mm256_min_epi32(t, _mm256_set1_epi32(127)),
                                 _mm256_set1_epi32(-127));
            store8(t, q + i, 1);
        } else {
            store8(fp8_of(v), q + i, 0);
        }
    }
}

void kv_codec_decode_f16_avx2(kv_codec c, const uint8_t *q, float scale, uint16_t *x, uint32_t n)
{
    const __m256 k = _mm256_set1_ps(scale);
    for (uint32_t i = 0; i < n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(q + i));
        __m256 v;
        if (c == KV_CODEC_INT8) {
            v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
        } else {
            __m256i u = _mm256_cvtepu8_epi32(b);
            __m256i em = _mm256_and_si256(u, _mm256_set1_epi32(0x7f));
            __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(em, 20)),
                                     _mm256_set1_ps(0x1p120f));
            __m256i fb = _mm256_blendv_epi8(_mm256_castps_si256(f), _mm256_set1_epi32(0x7fc00000),
                                            _mm256_cmpeq_epi32(em, _mm256_set1_epi32(0x7f)));
            fb = _mm256_or_si256(fb, _mm256_slli_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x80)), 24));
            v = _mm256_castsi256_ps(fb);
        }
        _mm_storeu_si128((__m128i *)(x + i),
                         _mm256_cvtps_ph(_mm256_mul_ps(v, k), _MM_FROUND_TO_NEAREST_INT));
    }
}
