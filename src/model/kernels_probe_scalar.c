/* The scalar set's machine baselines (kernels.h, kern_probe): 8-byte loads into
 * independent accumulators, and the multiply-adds of its float and int8 products in
 * independent lanes, as plain C compiled without vector flags, as the set is. */
#include "model/kernels.h"

#include <string.h>

static uint64_t read_scalar(const uint8_t *p, size_t n)
{
    uint64_t s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int c = 0; c < 4; c++) {
            uint64_t v;
            memcpy(&v, p + i + 8 * c, sizeof v);
            s[c] += v;
        }
    uint64_t out = s[0] + s[1] + s[2] + s[3];
    for (; i < n; i++)
        out += p[i];
    return out;
}

/* Lanes of the multiply-add loops: independent, so the compiler may vectorize them with
 * the base instruction set as it does the scalar products; a peak the set's own code could
 * reach, not one of scalar instructions only. */
#define LANES 64

static double fma_scalar(long n, float *sink)
{
    float acc[LANES];
    for (int c = 0; c < LANES; c++)
        acc[c] = (float)c;
    for (long i = 0; i < n; i++)
        for (int c = 0; c < LANES; c++)
            acc[c] = acc[c] * 0.999f + 1e-3f;
    float s = 0.0f;
    for (int c = 0; c < LANES; c++)
        s += acc[c];
    *sink = s;
    return (double)n * LANES * 2;
}

static double dot_q8_scalar(long n, int32_t *sink)
{
    int32_t acc[LANES];
    int8_t w[LANES], x[LANES];
    for (int c = 0; c < LANES; c++)
        acc[c] = c, w[c] = (int8_t)(c - 32), x[c] = (int8_t)(31 - c);
    for (long i = 0; i < n; i++) {
        __asm__ volatile("" : "+m"(w)); /* new weights each round: no hoisted product */
        for (int c = 0; c < LANES; c++)
            acc[c] += w[c] * x[c];
    }
    int32_t s = 0;
    for (int c = 0; c < LANES; c++)
        s += acc[c];
    *sink = s;
    return (double)n * LANES * 2;
}

const kern_probe kern_scalar_probe = {"scalar", read_scalar, fma_scalar, dot_q8_scalar};
