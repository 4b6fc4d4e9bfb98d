/* The AVX2 set's machine baselines (kernels.h, kern_probe): 32-byte loads into independent
 * accumulators for the read bandwidth; the FMA the float products use and the
 * maddubs/madd pair the quantized products use, in independent chains so each runs at
 * its throughput, not its latency. */
#include "model/kernels.h"

#include <immintrin.h>

static uint64_t read_avx2(const uint8_t *p, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        s0 = _mm256_add_epi64(s0, _mm256_loadu_si256((const __m256i *)(const void *)(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32)));
        s2 = _mm256_add_epi64(s2, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 64)));
        s3 = _mm256_add_epi64(s3, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t out = (uint64_t)_mm256_extract_epi64(s, 0) + (uint64_t)_mm256_extract_epi64(s, 1) +
                   (uint64_t)_mm256_extract_epi64(s, 2) + (uint64_t)_mm256_extract_epi64(s, 3);
    for (; i < n; i++)
        out += p[i];
    return out;
}

#define CHAINS 8 /* FMA latency 4-5 cycles × 2 ports */

static double fma_avx2(long n, float *sink)
{
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < n; i++)
        _Pragma("GCC unroll 8")
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    __m256 s = acc[0];
    for (int c = 1; c < CHAINS; c++)
        s = _mm256_add_ps(s, acc[c]);
    *sink = _mm256_cvtss_f32(s);
    return (double)n * CHAINS * 8 * 2;
}

/* 6 chains, each its own weight vector made opaque every round, so no product is shared
 * or hoisted: 6 accumulators + 6 weights + activation + ones fit the 16 registers. */
#define Q8_CHAINS 6

static double dot_q8_avx2(long n, int32_t *sink)
{
    __m256i acc[Q8_CHAINS], w[Q8_CHAINS];
    __m256i x = _mm256_set1_epi8(-2);
    const __m256i one = _mm256_set1_epi16(1);
    for (int c = 0; c < Q8_CHAINS; c++) {
        acc[c] = _mm256_set1_epi32(c);
        w[c] = _mm256_set1_epi8((char)(c + 1));
    }
    for (long i = 0; i < n; i++) {
        __asm__ volatile("" : "+x"(x));
        _Pragma("GCC unroll 8")
        for (int c = 0; c < Q8_CHAINS; c++) {
            __asm__ volatile("" : "+x"(w[c]));
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w[c], x), one);
            acc[c] = _mm256_add_epi32(acc[c], p);
        }
    }
    __m256i s = acc[0];
    for (int c = 1; c < Q8_CHAINS; c++)
        s = _mm256_add_epi32(s, acc[c]);
    *sink = _mm256_extract_epi32(s, 0);
    return (double)n * Q8_CHAINS * 32 * 2;
}

const kern_probe kern_avx2_probe = {"avx2", read_avx2, fma_avx2, dot_q8_avx2};
