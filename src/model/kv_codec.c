#include "model/kv_codec.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "model/kernels.h"

static const float INT8_MAX_Q = 127.0f, FP8_MAX = 448.0f;

int kv_codec_parse(const char *s, kv_codec *out)
{
    if (!strcmp(s, "none"))
        *out = KV_CODEC_NONE;
    else if (!strcmp(s, "int8"))
        *out = KV_CODEC_INT8;
    else if (!strcmp(s, "fp8") || !strcmp(s, "fp8_e4m3"))
        *out = KV_CODEC_FP8;
    else
        return -1;
    return 0;
}

const char *kv_codec_name(kv_codec c)
{
    return c == KV_CODEC_INT8 ? "int8" : c == KV_CODEC_FP8 ? "fp8" : "none";
}

size_t kv_codec_row_bytes(kv_codec c, kv_dtype t, uint32_t n_heads, uint32_t head_dim)
{
    if (c == KV_CODEC_NONE)
        return (size_t)n_heads * head_dim * kv_dtype_size(t);
    return (size_t)n_heads * (sizeof(float) + head_dim);
}

uint8_t kv_fp8_from_f32(float x)
{
    uint8_t sign = signbit(x) ? 0x80 : 0;
    float a = fabsf(x);
    if (isnan(x))
        return 0x7f;
    if (a >= FP8_MAX)
        return sign | 0x7e;
    if (a < 0x1p-6f) /* subnormal: multiples of 2^-9; 8 of them is the smallest normal */
        return sign | (uint8_t)rintf(a * 0x1p9f);
    int e;
    float f = frexpf(a, &e); /* a = f * 2^e, f in [0.5, 1) */
    int exp = e - 1 + 7, mant = (int)rintf((2.0f * f - 1.0f) * 8.0f);
    if (mant == 8) {
        mant = 0;
        exp++;
    }
    if (exp > 15 || (exp == 15 && mant == 7))
        return sign | 0x7e;
    return sign | (uint8_t)(exp << 3 | mant);
}

static float fp8_table[256];
static pthread_once_t fp8_once = PTHREAD_ONCE_INIT;

static void fp8_table_init(void)
{
    for (int b = 0; b < 256; b++) {
        int exp = (b >> 3) & 15, mant = b & 7;
        float v = exp ? ldexpf(1.0f + mant / 8.0f, exp - 7) : ldexpf((float)mant, -9);
        if (exp == 15 && mant == 7)
            v = NAN;
        fp8_table[b] = b & 0x80 ? -v : v;
    }
}

float kv_fp8_to_f32(uint8_t b)
{
    pthread_once(&fp8_once, fp8_table_init);
    return fp8_table[b];
}

static void load_head(kv_dtype t, const void *src, size_t off, float *out, uint32_t n)
{
    if (t == KV_F32) {
        memcpy(out, (const float *)src + off, n * sizeof *out);
        return;
    }
    const uint16_t *h = (const uint16_t *)src + off;
    for (uint32_t i = 0; i < n; i++)
        out[i] = kern_f16_to_f32(h[i]);
}

static void store_head(kv_dtype t, void *dst, size_t off, const float *in, uint32_t n)
{
    if (t == KV_F32) {
        memcpy((float *)dst + off, in, n * sizeof *in);
        return;
    }
    uint16_t *h = (uint16_t *)dst + off;
    for (uint32_t i = 0; i < n; i++)
        h[i] = kern_f32_to_f16(in[i]);
}

/* One head: its scale and head_dim one-byte values. */
static float encode_head(kv_codec c, const float *x, uint8_t *q, uint32_t n)
{
    float amax = 0;
    for (uint32_t i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float top = c == KV_CODEC_INT8 ? INT8_MAX_Q : FP8_MAX;
    float scale = amax / top, inv = amax > 0 ? top / amax : 0;
    if (!isfinite(inv))
        inv = 0; /* a head too small to scale: all zeros */
    for (uint32_t i = 0; i < n; i++) {
        float v = x[i] * inv;
        if (c == KV_CODEC_INT8)
            q[i] = (uint8_t)(int8_t)fmaxf(-INT8_MAX_Q, fminf(INT8_MAX_Q, rintf(v)));
        else
            q[i] = kv_fp8_from_f32(v);
    }
    return scale;
}

static void decode_head(kv_codec c, float scale, const uint8_t *q, float *x, uint32_t n)
{
    if (c == KV_CODEC_INT8) {
        for (uint32_t i = 0; i < n; i++)
            x[i] = (float)(int8_t)q[i] * scale;
        return;
    }
    pthread_once(&fp8_once, fp8_table_init);
    for (uint32_t i = 0; i < n; i++)
        x[i] = fp8_table[q[i]] * scale;
}

void kv_codec_encode(kv_codec c, kv_dtype t, const void *src, uint8_t *dst, size_t n_rows,
                     uint32_t n_heads, uint32_t head_dim)
{
    size_t row = kv_codec_row_bytes(c, t, n_heads, head_dim);
    if (c == KV_CODEC_NONE) {
        memcpy(dst, src, n_rows * row);
        return;
    }
    float x[KV_CODEC_HEAD_MAX];
    for (size_t r = 0; r < n_rows; r++) {
        uint8_t *out = dst + r * row, *values = out + (size_t)n_heads * sizeof(float);
        for (uint32_t h = 0; h < n_heads; h++) {
            size_t off = (r * n_heads + h) * head_dim;
            load_head(t, src, off, x, head_dim);
            float scale = encode_head(c, x, values + (size_t)h * head_dim, head_dim);
            memcpy(out + h * sizeof(float), &scale, sizeof scale);
        }
    }
}

void kv_codec_decode(kv_codec c, kv_dtype t, const uint8_t *src, void *dst, size_t n_rows,
                     uint32_t n_heads, uint32_t head_dim)
{
    size_t row = kv_codec_row_bytes(c, t, n_heads, head_dim);
    if (c == KV_CODEC_NONE) {
        memcpy(dst, src, n_rows * row);
        return;
    }
    float x[KV_CODEC_HEAD_MAX];
    for (size_t r = 0; r < n_rows; r++) {
        const uint8_t *in = src + r * row, *values = in + (size_t)n_heads * sizeof(float);
        for (uint32_t h = 0; h < n_heads; h++) {
            float scale;
            memcpy(&scale, in + h * sizeof(float), sizeof scale);
            decode_head(c, scale, values + (size_t)h * head_dim, x, head_dim);
            store_head(t, dst, (r * n_heads + h) * head_dim, x, head_dim);
        }
    }
}
