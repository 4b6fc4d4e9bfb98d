#include "model/kv_codec.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "model/kernels.h"
#include "model/kv_codec_simd.h"


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

/* The element kernels are branch-free (selects, integer bit operations, no libm call) so
 * that the compiler vectorizes the loops over a head (the file is built with -O3). */

static inline uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* x rounded to the nearest integer, ties to even, as an int, for |x| < 2^22: adding
 * 1.5 * 2^23 leaves no fraction bits (the FPU rounds to nearest even; without -ffast-math
 * the compiler keeps the addition) and the integer is in the low mantissa bits. */
static inline int32_t round_even_int(float x)
{
    return (int32_t)(bits_of(x + 0x1.8p23f) - 0x4b400000u);
}

uint8_t kv_fp8_from_f32(float x)
{
    uint32_t u = bits_of(x) & 0x7fffffffu, sign = (bits_of(x) >> 24) & 0x80;
    /* Normal: keep 3 mantissa bits, rounding to nearest even, rebias the exponent 127 -> 7.
     * Below 2^-6: subnormal, multiples of 2^-9 (8 of them is 2^-6, the smallest normal). */
    uint32_t normal = ((u + 0x7ffffu + ((u >> 20) & 1)) >> 20) - (120u << 3);
    uint32_t sub = (uint32_t)round_even_int(float_of(u) * 0x1p9f);
    uint32_t r = u < 0x3c800000u ? sub : normal;
    r = u >= 0x43e00000u ? 0x7e : r; /* 448 and above (464 would round past the largest) */
    r = u > 0x7f800000u ? 0x7f : r;  /* NaN */
    return (uint8_t)(sign | r);
}

/* E4M3 to f32 as f16 is widened: exponent and mantissa shifted into an f32's place and
 * scaled by 2^120 (which also normalizes subnormals); S.1111.111 is NaN. */
float kv_fp8_to_f32(uint8_t b)
{
    uint32_t em = (uint32_t)(b & 0x7f) << 20;
    uint32_t u = bits_of(float_of(em) * 0x1p120f);
    u = (b & 0x7f) == 0x7f ? 0x7fc00000u : u;
    return float_of(u | (uint32_t)(b & 0x80) << 24);
}

/* f16 to f32 the same way, by 2^112; infinities and NaNs fixed up. */
static inline float f16_to_f32(uint16_t h)
{
    uint32_t em = (uint32_t)(h & 0x7fff) << 13;
    uint32_t u = bits_of(float_of(em) * 0x1p112f);
    u = (h & 0x7c00) == 0x7c00 ? 0x7f800000u | em : u;
    return float_of(u | (uint32_t)(h & 0x8000) << 16);
}

/* f32 to f16, round to nearest even, for the finite values a decode produces (at most the
 * largest magnitude of an f16 head). */
static inline uint16_t f32_to_f16(float f)
{
    uint32_t x = bits_of(f), ax = x & 0x7fffffffu, rem = ax & 0x1fffu;
    uint32_t normal = (ax >> 13) - (112u << 10); /* a rounding carry moves into the exponent */
    normal += (rem > 0x1000u) | ((rem == 0x1000u) & normal);
    normal = normal > 0x7bffu ? 0x7bffu : normal;
    uint32_t sub = (uint32_t)round_even_int(float_of(ax) * 0x1p24f); /* below 2^-14 */
    return (uint16_t)(((x >> 16) & 0x8000) | (ax < 0x38800000u ? sub : normal));
}

static void load_head(kv_dtype t, const void *src, size_t off, float *out, uint32_t n)
{
    if (t == KV_F32) {
        memcpy(out, (const float *)src + off, n * sizeof *out);
        return;
    }
    const uint16_t *h = (const uint16_t *)src + off;
    for (uint32_t i = 0; i < n; i++)
        out[i] = f16_to_f32(h[i]);
}

static void store_head(kv_dtype t, void *dst, size_t off, const float *in, uint32_t n)
{
    if (t == KV_F32) {
        memcpy((float *)dst + off, in, n * sizeof *in);
        return;
    }
    uint16_t *h = (uint16_t *)dst + off;
    for (uint32_t i = 0; i < n; i++)
        h[i] = f32_to_f16(in[i]);
}

/* A head's scale (its largest magnitude maps to the codec's largest value) and *inv, the
 * factor that maps its values to the codec's range. */
static float scale_of(kv_codec c, float amax, float *inv)
{
    float top = c == KV_CODEC_INT8 ? INT8_MAX_Q : FP8_MAX;
    *inv = amax > 0 ? top / amax : 0;
    if (!isfinite(*inv))
        *inv = 0; /* a head too small to scale: all zeros */
    return amax / top;
}

/* One head: its scale and head_dim one-byte values. */
static float encode_head(kv_codec c, const float *x, uint8_t *q, uint32_t n)
{
    uint32_t amax_bits = 0; /* magnitudes compare as their bits do */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = bits_of(x[i]) & 0x7fffffffu;
        amax_bits = a > amax_bits ? a : amax_bits;
    }
    float inv, scale = scale_of(c, float_of(amax_bits), &inv);
    if (c == KV_CODEC_INT8)
        for (uint32_t i = 0; i < n; i++) {
            int32_t v = round_even_int(x[i] * inv);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[i] = (uint8_t)v;
        }
    else
        for (uint32_t i = 0; i < n; i++)
            q[i] = kv_fp8_from_f32(x[i] * inv);
    return scale;
}

static void decode_head(kv_codec c, float scale, const uint8_t *q, float *x, uint32_t n)
{
    if (c == KV_CODEC_INT8)
        for (uint32_t i = 0; i < n; i++)
            x[i] = (float)(int8_t)q[i] * scale;
    else
        for (uint32_t i = 0; i < n; i++)
            x[i] = kv_fp8_to_f32(q[i]) * scale;
}

static bool avx2;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT;

/* The AVX2 kernel sets (avx2, avx512) imply AVX2 and F16C; KVSPILL_KERNELS=scalar turns
 * the SIMD loops off here too. */
static void avx2_init(void) { avx2 = kern_get(KERN_AUTO) != &kern_scalar_set; }

/* Whether the AVX2 loops take heads of this cache: f16, whole steps of 8. */
static bool simd_for(kv_dtype t, uint32_t head_dim)
{
    pthread_once(&avx2_once, avx2_init);
    return avx2 && t == KV_F16 && head_dim % 8 == 0;
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
    bool simd = simd_for(t, head_dim);
    for (size_t r = 0; r < n_rows; r++) {
        uint8_t *out = dst + r * row, *values = out + (size_t)n_heads * sizeof(float);
        for (uint32_t h = 0; h < n_heads; h++) {
            size_t off = (r * n_heads + h) * head_dim;
            uint8_t *q = values + (size_t)h * head_dim;
            float scale, inv;
            if (simd) {
                const uint16_t *head = (const uint16_t *)src + off;
                scale = scale_of(c, kv_codec_amax_f16_avx2(head, head_dim), &inv);
                kv_codec_encode_f16_avx2(c, head, inv, q, head_dim);
            } else {
                load_head(t, src, off, x, head_dim);
                scale = encode_head(c, x, q, head_dim);
            }
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
    bool simd = simd_for(t, head_dim);
    for (size_t r = 0; r < n_rows; r++) {
        const uint8_t *in = src + r * row, *values = in + (size_t)n_heads * sizeof(float);
        for (uint32_t h = 0; h < n_heads; h++) {
            float scale;
            memcpy(&scale, in + h * sizeof(float), sizeof scale);
            const uint8_t *q = values + (size_t)h * head_dim;
            size_t off = (r * n_heads + h) * head_dim;
            if (simd) {
                kv_codec_decode_f16_avx2(c, q, scale, (uint16_t *)dst + off, head_dim);
            } else {
                decode_head(c, scale, q, x, head_dim);
                store_head(t, dst, off, x, head_dim);
            }
        }
    }
}
