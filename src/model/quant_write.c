#include "model/quant_write.h"

#include <math.h>
#include <string.h>

#include "model/gguf.h"

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
    default:
        return -1;
    }
}
