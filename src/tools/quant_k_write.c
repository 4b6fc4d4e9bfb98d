/* K-quant writers: Q4_K and Q6_K super-blocks of 256 values (layouts in the format notes,
 * read back by kern_dequant_row). Each sub-block gets its own float scale (and min) first;
 * those are then quantized against the super-block's f16 scale, and the values are
 * rounded again with the scales as stored, so the rounding sees what the reader will. */
#include <math.h>
#include <string.h>

#include "model/kernels.h"
#include "tools/quant_write.h"

static int clampi(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

/* One Q4_K sub-block of 32 values as x ≈ a·q + c with q in [0, 15], a ≥ 0 and c ≤ 0 (the
 * format subtracts a non-negative min, so c starts at min(x, 0)). A few step counts
 * 15 + s over [c, max x] are tried; for each, q is fixed by rounding and (a, c) refitted
 * by least squares (c clamped to ≤ 0). The squared error comes from the sums
 * Σx, Σx², Σq, Σq², Σxq; the smallest wins. */
static void fit_affine(const float *x, float *a_out, float *c_out)
{
    static const float extra_steps[] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    const float n = 32.0f;
    float lo = 0.0f, hi = x[0], sx = 0.0f, sxx = 0.0f;
    for (int i = 0; i < 32; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sx += x[i];
        sxx += x[i] * x[i];
    }
    *a_out = 0.0f;
    *c_out = lo;
    if (!(hi > lo))
        return; /* constant (≤ 0) or all zero: c alone is exact */
    float best = INFINITY;
    for (size_t k = 0; k < sizeof extra_steps / sizeof extra_steps[0]; k++) {
        float is = (15.0f + extra_steps[k]) / (hi - lo), sq = 0.0f, sqq = 0.0f, sxq = 0.0f;
        for (int i = 0; i < 32; i++) {
            float q = (float)clampi(lrintf((x[i] - lo) * is), 0, 15);
            sq += q;
            sqq += q * q;
            sxq += x[i] * q;
        }
        /* all q equal (det = 0): a alone when they are > 0, else c alone */
        float det = n * sqq - sq * sq, a = sqq > 0.0f ? fmaxf(sxq / sqq, 0.0f) : 0.0f;
        float c = sqq > 0.0f ? 0.0f : fminf(sx / n, 0.0f);
        if (det > 0.0f) {
            a = (n * sxq - sx * sq) / det;
            c = (sx - a * sq) / n;
            if (c > 0.0f) {
                c = 0.0f;
                a = sxq / sqq;
            }
            if (a < 0.0f) {
                a = 0.0f;
                c = fminf(sx / n, 0.0f);
            }
        }
        float err = sxx - 2 * a * sxq - 2 * c * sx + a * a * sqq + 2 * a * c * sq + n * c * c;
        if (err < best) {
            best = err;
            *a_out = a;
            *c_out = c;
        }
    }
}

/* Q4_K: f16 d and dmin, eight 6-bit scales and mins packed into 12 bytes, 128 bytes of
 * nibbles (chunk c of 64 values: sub-block 2c in the low nibbles, 2c+1 in the high). */
void quant_block_q4_k(const float *x, uint8_t *out)
{
    float a[8], mn[8], amax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < 8; j++) {
        float c;
        fit_affine(x + 32 * j, &a[j], &c);
        mn[j] = -c;
        amax = fmaxf(amax, a[j]);
        mmax = fmaxf(mmax, mn[j]);
    }
    uint16_t dh = quant_f32_to_f16(amax / 63.0f), mh = quant_f32_to_f16(mmax / 63.0f);
    float d = kern_f16_to_f32(dh), dmin = kern_f16_to_f32(mh);
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0.0f ? clampi(lrintf(a[j] / d), 0, 63) : 0;
        m[j] = dmin > 0.0f ? clampi(lrintf(mn[j] / dmin), 0, 63) : 0;
    }
    memcpy(out, &dh, 2);
    memcpy(out + 2, &mh, 2);
    uint8_t *s = out + 4, *qs = out + 16;
    for (int j = 0; j < 4; j++) { /* the inverse of kern_q4k_scale_min */
        s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
    uint8_t q[256];
    for (int j = 0; j < 8; j++) {
        float step = d * (float)sc[j], off = dmin * (float)m[j];
        float is = step > 0.0f ? 1.0f / step : 0.0f;
        for (int i = 0; i < 32; i++)
            q[32 * j + i] = (uint8_t)clampi(lrintf((x[32 * j + i] + off) * is), 0, 15);
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

/* Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, sixteen int8 scales (one
 * per 16 values) and the f16 d last; values are q − 32 with q in [0, 63]. Within each half
 * of 128 values, position l (< 32) of the four 32-value quarters shares ql and qh bytes. */
void quant_block_q6_k(const float *x, uint8_t *out)
{
    float s[16], smax = 0.0f;
    for (int j = 0; j < 16; j++) {
        s[j] = quant_symmetric_scale(x + 16 * j, 16, -32, 31);
        smax = fmaxf(smax, fabsf(s[j]));
    }
    uint16_t dh = quant_f32_to_f16(smax / 127.0f);
    float d = kern_f16_to_f32(dh);
    uint8_t q[256];
    int8_t *scales = (int8_t *)(out + 192);
    for (int j = 0; j < 16; j++) {
        int sc = d > 0.0f ? clampi(lrintf(s[j] / d), -128, 127) : 0;
        scales[j] = (int8_t)sc;
        float step = d * (float)sc, is = step != 0.0f ? 1.0f / step : 0.0f;
        for (int i = 0; i < 16; i++)
            q[16 * j + i] = (uint8_t)(clampi(lrintf(x[16 * j + i] * is), -32, 31) + 32);
    }
    uint8_t *ql = out, *qh = out + 128;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
        const uint8_t *v = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            int q1 = v[l], q2 = v[l + 32], q3 = v[l + 64], q4 = v[l + 96];
            ql[l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
            ql[l + 32] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
            qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
    memcpy(out + 208, &dh, 2);
}
