/* The portable kernel set: plain C for every weight type. It is the fallback on CPUs
 * without AVX2 and the yardstick the vector sets are tested against. */
#include "model/kernels.h"

#include <math.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static float rdf32(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

void kern_scalar_act_q8(const float *x, kern_q8_block *out, int k)
{
    for (int b = 0; b < k / KERN_Q8_BLOCK; b++) {
        const float *v = x + b * KERN_Q8_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < KERN_Q8_BLOCK; j++)
            amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < KERN_Q8_BLOCK; j++) {
            int q = (int)roundf(v[j] * id);
            out[b].q[j] = (int8_t)q;
            sum += q;
        }
        out[b].d = kern_f16_to_f32(kern_f32_to_f16(d));
        out[b].sum = sum;
    }
}

void kern_scalar_act_f16(const float *x, uint16_t *out, int k)
{
    for (int i = 0; i < k; i++)
        out[i] = kern_f32_to_f16(x[i]);
}

static float dot_f32(int k, const uint8_t *w, const uint8_t *a)
{
    const float *x = (const float *)(const void *)a;
    float s = 0.0f;
    for (int i = 0; i < k; i++)
        s += rdf32(w + 4 * i) * x[i];
    return s;
}

static float dot_f16(int k, const uint8_t *w, const uint8_t *a)
{
    float s = 0.0f;
    for (int i = 0; i < k; i++)
        s += kern_f16_to_f32(rd16(w + 2 * i)) * kern_f16_to_f32(rd16(a + 2 * i));
    return s;
}

static float dot_bf16(int k, const uint8_t *w, const uint8_t *a)
{
    const float *x = (const float *)(const void *)a;
    float s = 0.0f;
    for (int i = 0; i < k; i++)
        s += kern_bf16_to_f32(rd16(w + 2 * i)) * x[i];
    return s;
}

static float dot_q8_0(int k, const uint8_t *w, const uint8_t *a)
{
    const kern_q8_block *x = (const kern_q8_block *)(const void *)a;
    float s = 0.0f;
    for (int b = 0; b < k / 32; b++, w += 34) {
        int32_t is = 0;
        for (int j = 0; j < 32; j++)
            is += (int8_t)w[2 + j] * x[b].q[j];
        s += kern_f16_to_f32(rd16(w)) * x[b].d * (float)is;
    }
    return s;
}

static float dot_q4_0(int k, const uint8_t *w, const uint8_t *a)
{
    const kern_q8_block *x = (const kern_q8_block *)(const void *)a;
    float s = 0.0f;
    for (int b = 0; b < k / 32; b++, w += 18) {
        int32_t is = 0;
        for (int j = 0; j < 16; j++)
            is += (w[2 + j] & 0xf) * x[b].q[j] + (w[2 + j] >> 4) * x[b].q[j + 16];
        s += kern_f16_to_f32(rd16(w)) * x[b].d * (float)(is - 8 * x[b].sum);
    }
    return s;
}

/* Sub-block j (32 values) of a Q4_K super-block against activation block x:
 * Σ (d·sc·q − dmin·m)·(dx·qx) = dx·(d·sc·Σ q·qx − dmin·m·Σ qx). */
static float dot_q4_k(int k, const uint8_t *w, const uint8_t *a)
{
    const kern_q8_block *x = (const kern_q8_block *)(const void *)a;
    float s = 0.0f;
    for (int b = 0; b < k / 256; b++, w += 144) {
        float d = kern_f16_to_f32(rd16(w)), dmin = kern_f16_to_f32(rd16(w + 2));
        const uint8_t *qs = w + 16;
        for (int j = 0; j < 8; j++, x++) {
            int sc, m;
            kern_q4k_scale_min(w + 4, j, &sc, &m);
            const uint8_t *q = qs + 32 * (j / 2);
            int shift = (j & 1) * 4;
            int32_t is = 0;
            for (int l = 0; l < 32; l++)
                is += ((q[l] >> shift) & 0xf) * x->q[l];
            s += x->d * (d * (float)(sc * is) - dmin * (float)(m * x->sum));
        }
    }
    return s;
}

/* Q6_K: each half of 128 values is four groups of 32 (one activation block each); within
 * a group the first and last 16 values have their own int8 scale. */
static float dot_q6_k(int k, const uint8_t *w, const uint8_t *a)
{
    const kern_q8_block *x = (const kern_q8_block *)(const void *)a;
    float s = 0.0f;
    for (int b = 0; b < k / 256; b++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        float d = kern_f16_to_f32(rd16(w + 208));
        for (int half = 0; half < 2; half++) {
            for (int g = 0; g < 4; g++, x++) {
                const uint8_t *lo = ql + (g & 1) * 32;
                int lshift = (g >> 1) * 4, hshift = 2 * g;
                int32_t part[2] = {0, 0};
                for (int l = 0; l < 32; l++) {
                    int q = (((lo[l] >> lshift) & 0xf) | (((qh[l] >> hshift) & 3) << 4)) - 32;
                    part[l / 16] += q * x->q[l];
                }
                s += d * x->d * (float)(sc[2 * g] * part[0] + sc[2 * g + 1] * part[1]);
            }
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
    return s;
}

#define SCALAR_GEMM(name, dot)                                                               \
    static void name(int k, const uint8_t *w, size_t w_stride, int n_rows, const uint8_t *a, \
                     size_t a_stride, int n_tok, float *y, size_t y_stride)                  \
    {                                                                                        \
        for (int r = 0; r < n_rows; r++)                                                     \
            for (int t = 0; t < n_tok; t++)                                                  \
                y[(size_t)t * y_stride + r] = dot(k, w + (size_t)r * w_stride,               \
                                                  a + (size_t)t * a_stride);                 \
    }

SCALAR_GEMM(gemm_f32, dot_f32)
SCALAR_GEMM(gemm_f16, dot_f16)
SCALAR_GEMM(gemm_bf16, dot_bf16)
SCALAR_GEMM(gemm_q8_0, dot_q8_0)
SCALAR_GEMM(gemm_q4_0, dot_q4_0)
SCALAR_GEMM(gemm_q4_k, dot_q4_k)
SCALAR_GEMM(gemm_q6_k, dot_q6_k)

static void attn_scores_f32(const float *q, const float *k, size_t stride, int n, int d,
                            float scale, float *scores)
{
    for (int i = 0; i < n; i++) {
        const float *kr = k + (size_t)i * stride;
        float s = 0.0f;
        for (int j = 0; j < d; j++)
            s += q[j] * kr[j];
        scores[i] = s * scale;
    }
}

static void attn_scores_f16(const float *q, const uint16_t *k, size_t stride, int n, int d,
                            float scale, float *scores)
{
    for (int i = 0; i < n; i++) {
        const uint16_t *kr = k + (size_t)i * stride;
        float s = 0.0f;
        for (int j = 0; j < d; j++)
            s += q[j] * kern_f16_to_f32(kr[j]);
        scores[i] = s * scale;
    }
}

static void attn_accum_f32(const float *w, const float *v, size_t stride, int n, int d,
                           float *out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            out[j] += w[i] * v[(size_t)i * stride + j];
}

static void attn_accum_f16(const float *w, const uint16_t *v, size_t stride, int n, int d,
                           float *out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            out[j] += w[i] * kern_f16_to_f32(v[(size_t)i * stride + j]);
}

static void swiglu(const float *gate, const float *up, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

const kern_set kern_scalar_set = {
    .name = "scalar",
    .probe = &kern_scalar_probe,
    .gemm = {[KW_F32] = gemm_f32, [KW_F16] = gemm_f16, [KW_BF16] = gemm_bf16,
             [KW_Q8_0] = gemm_q8_0, [KW_Q4_0] = gemm_q4_0, [KW_Q4_K] = gemm_q4_k,
             [KW_Q6_K] = gemm_q6_k},
    .act_f16 = kern_scalar_act_f16,
    .act_q8 = kern_scalar_act_q8,
    .attn_scores_f32 = attn_scores_f32,
    .attn_scores_f16 = attn_scores_f16,
    .attn_accum_f32 = attn_accum_f32,
    .attn_accum_f16 = attn_accum_f16,
    .swiglu = swiglu,
};
