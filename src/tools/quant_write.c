#include "tools/quant_write.h"

#include <math.h>
#include <string.h>

#include "model/gguf.h"
#include "model/kernels.h"

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xFFu, mant = x & 0x7FFFFFu;
    if (exp == 0xFF) /* inf or NaN (keep a quiet NaN) */
        return (uint16_t)(sign | 0x7C00u | (mant ? 0x200u : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7C00u);
    if (e <= 0) { /* subnormal or zero in f16 */
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding, up to inf */
    return (uint16_t)(sign | h);
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

/* Q8_0: blocks of 32 values as an f16 scale d = max|x| / 127 and 32 int8 x / d. */
static void row_q8_0(const float *x, size_t n, uint8_t *out)
{
    for (size_t b = 0; b < n / 32; b++, x += 32, out += 34) {
        float amax = 0;
        for (int i = 0; i < 32; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        uint16_t dh = quant_f32_to_f16(d);
        memcpy(out, &dh, 2);
        for (int i = 0; i < 32; i++)
            out[2 + i] = (uint8_t)(int8_t)lrintf(x[i] * id);
    }
}

static int clampi(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

/* Round to nearest with a scale search. The value m of largest magnitude is mapped to a
 * few targets t (d = m / t): qmin and points just around it, and qmax. Mapping m a little
 * past qmin clips it slightly but gives every other value a finer grid, which often wins
 * at 4 bits. For each candidate the q are fixed by rounding and d refitted by least
 * squares (d = Σxq / Σq²); the squared error is then Σx² − (Σxq)²/Σq², so the candidate
 * with the largest (Σxq)²/Σq² wins. */
float quant_symmetric_scale(const float *x, int n, int qmin, int qmax)
{
    static const float around_qmin[] = {-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 1.0f};
    const int n_cand = (int)(sizeof around_qmin / sizeof around_qmin[0]) + 1;
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(m))
            m = x[i];
    if (m == 0.0f)
        return 0.0f;
    float best_d = 0.0f, best_score = -1.0f;
    for (int c = 0; c < n_cand; c++) {
        float t = c + 1 < n_cand ? (float)qmin + around_qmin[c] : (float)qmax;
        float is = t / m, sxq = 0.0f, sqq = 0.0f;
        for (int i = 0; i < n; i++) {
            float q = (float)clampi(lrintf(x[i] * is), qmin, qmax);
            sxq += x[i] * q;
            sqq += q * q;
        }
        if (sqq > 0.0f && sxq * sxq / sqq > best_score) {
            best_score = sxq * sxq / sqq;
            best_d = sxq / sqq;
        }
    }
    return best_d;
}

/* Q4_0: blocks of 32 values as an f16 scale d and 32 nibbles q + 8, q = round(x / d) in
 * [-8, 7]; the first 16 values in the low nibbles, the last 16 in the high ones. */
static void row_q4_0(const float *x, size_t n, uint8_t *out)
{
    for (size_t b = 0; b < n / 32; b++, x += 32, out += 18) {
        uint16_t dh = quant_f32_to_f16(quant_symmetric_scale(x, 32, -8, 7));
        float d = kern_f16_to_f32(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
        memcpy(out, &dh, 2);
        for (int j = 0; j < 16; j++) {
            int lo = clampi(lrintf(x[j] * id), -8, 7) + 8, hi = clampi(lrintf(x[j + 16] * id), -8, 7) + 8;
            out[2 + j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

int quant_row(uint32_t type, const float *x, size_t n, void *out)
{
    uint16_t *h = out;
    switch (type) {
    case GGML_TYPE_F32:
        memcpy(out, x, n * sizeof *x);
        return 0;
    case GGML_TYPE_F16:
        for (size_t i = 0; i < n; i++)
            h[i] = quant_f32_to_f16(x[i]);
        return 0;
    case GGML_TYPE_BF16:
        for (size_t i = 0; i < n; i++)
            h[i] = quant_f32_to_bf16(x[i]);
        return 0;
    case GGML_TYPE_Q8_0:
        if (n % 32)
            return -1;
        row_q8_0(x, n, out);
        return 0;
    case GGML_TYPE_Q4_0:
        if (n % 32)
            return -1;
        row_q4_0(x, n, out);
        return 0;
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q6_K:
        if (n % 256)
            return -1;
        for (size_t b = 0; b < n / 256; b++)
            if (type == GGML_TYPE_Q4_K)
                quant_block_q4_k(x + 256 * b, (uint8_t *)out + 144 * b);
            else
                quant_block_q6_k(x + 256 * b, (uint8_t *)out + 210 * b);
        return 0;
    default:
        return -1;
    }
}
