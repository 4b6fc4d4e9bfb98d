/* Portable helpers shared by every kernel set: number formats, the weight type table,
 * row dequantization, RMSNorm, softmax and RoPE (cheap next to the matrix products). */
#include "model/kernels.h"

#include <math.h>
#include <string.h>

#include "model/gguf.h"

typedef struct wtype_info {
    uint32_t ggml;
    const char *name;
    uint32_t block_elems, block_bytes;
    kern_act_format act;
} wtype_info;

static const wtype_info wtypes[KW_COUNT] = {
    [KW_F32] = {GGML_TYPE_F32, "F32", 1, 4, KA_F32},
    [KW_F16] = {GGML_TYPE_F16, "F16", 1, 2, KA_F16},
    [KW_BF16] = {GGML_TYPE_BF16, "BF16", 1, 2, KA_F32},
    [KW_Q8_0] = {GGML_TYPE_Q8_0, "Q8_0", 32, 34, KA_Q8},
    [KW_Q4_0] = {GGML_TYPE_Q4_0, "Q4_0", 32, 18, KA_Q8},
    [KW_Q4_K] = {GGML_TYPE_Q4_K, "Q4_K", 256, 144, KA_Q8},
    [KW_Q6_K] = {GGML_TYPE_Q6_K, "Q6_K", 256, 210, KA_Q8},
};

int kern_wtype_from_ggml(uint32_t id)
{
    for (int i = 0; i < KW_COUNT; i++)
        if (wtypes[i].ggml == id)
            return i;
    return -1;
}

const char *kern_wtype_name(kern_wtype t) { return wtypes[t].name; }
uint32_t kern_wtype_block_elems(kern_wtype t) { return wtypes[t].block_elems; }
uint32_t kern_wtype_block_bytes(kern_wtype t) { return wtypes[t].block_bytes; }
kern_act_format kern_wtype_act(kern_wtype t) { return wtypes[t].act; }

size_t kern_act_row_bytes(kern_act_format f, int k)
{
    switch (f) {
    case KA_F32: return (size_t)k * sizeof(float);
    case KA_F16: return (size_t)k * sizeof(uint16_t);
    case KA_Q8: return (size_t)(k / KERN_Q8_BLOCK) * sizeof(kern_q8_block);
    }
    return 0;
}

float kern_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        float f = (float)mant * 0x1p-24f; /* zero or subnormal */
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t kern_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (ax >= 0x477ff000u) /* rounds to 65520 or more: infinity */
        return sign | 0x7c00;
    if (ax < 0x38800000u) { /* below 2^-14: subnormal; scaling by 2^24 is exact */
        float a;
        memcpy(&a, &ax, sizeof a);
        return sign | (uint16_t)lrintf(a * 0x1p24f);
    }
    uint32_t h = ((((ax >> 23) - 112) << 10) | ((ax & 0x7fffffu) >> 13));
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* round to nearest even; a carry moves into the exponent correctly */
    return sign | (uint16_t)h;
}

float kern_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static void dequant_q4k(const uint8_t *b, float *y)
{
    float d = kern_f16_to_f32(rd16(b)), dmin = kern_f16_to_f32(rd16(b + 2));
    const uint8_t *sc = b + 4, *qs = b + 16;
    for (int c = 0; c < 4; c++) {
        int s0, m0, s1, m1;
        kern_q4k_scale_min(sc, 2 * c, &s0, &m0);
        kern_q4k_scale_min(sc, 2 * c + 1, &s1, &m1);
        for (int l = 0; l < 32; l++) {
            y[64 * c + l] = d * (float)s0 * (float)(qs[32 * c + l] & 0xf) - dmin * (float)m0;
            y[64 * c + 32 + l] = d * (float)s1 * (float)(qs[32 * c + l] >> 4) - dmin * (float)m1;
        }
    }
}

static void dequant_q6k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = kern_f16_to_f32(rd16(b + 208));
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        ql += 64;
        qh += 32;
        sc += 8;
        y += 128;
    }
}

void kern_dequant_row(kern_wtype t, const uint8_t *row, float *out, int k)
{
    switch (t) {
    case KW_F32: memcpy(out, row, (size_t)k * sizeof(float)); break;
    case KW_F16:
        for (int i = 0; i < k; i++)
            out[i] = kern_f16_to_f32(rd16(row + 2 * i));
        break;
    case KW_BF16:
        for (int i = 0; i < k; i++)
            out[i] = kern_bf16_to_f32(rd16(row + 2 * i));
        break;
    case KW_Q8_0:
        for (int b = 0; b < k / 32; b++, row += 34) {
            float d = kern_f16_to_f32(rd16(row));
            for (int j = 0; j < 32; j++)
                out[32 * b + j] = d * (float)(int8_t)row[2 + j];
        }
        break;
    case KW_Q4_0:
        for (int b = 0; b < k / 32; b++, row += 18) {
            float d = kern_f16_to_f32(rd16(row));
            for (int j = 0; j < 16; j++) {
                out[32 * b + j] = d * (float)((row[2 + j] & 0xf) - 8);
                out[32 * b + j + 16] = d * (float)((row[2 + j] >> 4) - 8);
            }
        }
        break;
    case KW_Q4_K:
        for (int b = 0; b < k / 256; b++)
            dequant_q4k(row + 144 * b, out + 256 * b);
        break;
    case KW_Q6_K:
        for (int b = 0; b < k / 256; b++)
            dequant_q6k(row + 210 * b, out + 256 * b);
        break;
    case KW_COUNT: break;
    }
}

void kern_rmsnorm(const float *x, const float *weight, float *out, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    float scale = (float)(1.0 / sqrt(ss / n + (double)eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

void kern_softmax(float *x, int n)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

/* cos and sin of pos·base^(−2i/n_rot) for i < n_rot/2 (n_rot <= 512, checked at load). */
static int rope_angles(int n_rot, int pos, float base, float cs[256], float sn[256])
{
    int half = n_rot / 2;
    if (half > 256)
        half = 256;
    for (int i = 0; i < half; i++) {
        double theta = (double)pos * pow((double)base, -2.0 * i / n_rot);
        cs[i] = (float)cos(theta);
        sn[i] = (float)sin(theta);
    }
    return half;
}

/* Rotates the pairs (v[i·stride], v[i·stride + gap]) of each head by the angles. */
static void rope_rotate(float *x, int n_heads, int head_dim, int half, int stride, int gap,
                        const float *cs, const float *sn)
{
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float a = v[i * stride], b = v[i * stride + gap];
            v[i * stride] = a * cs[i] - b * sn[i];
            v[i * stride + gap] = a * sn[i] + b * cs[i];
        }
    }
}

void kern_rope_norm(float *x, int n_heads, int head_dim, int n_rot, int pos, float base)
{
    float cs[256], sn[256];
    int half = rope_angles(n_rot, pos, base, cs, sn);
    rope_rotate(x, n_heads, head_dim, half, 2, 1, cs, sn);
}

void kern_rope_neox(float *x, int n_heads, int head_dim, int n_rot, int pos, float base)
{
    float cs[256], sn[256];
    int half = rope_angles(n_rot, pos, base, cs, sn);
    rope_rotate(x, n_heads, head_dim, half, 1, n_rot / 2, cs, sn);
}
