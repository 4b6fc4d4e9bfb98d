/* The KV codec of the offload tiers (LMCACHE_KV_CODEC): how a chunk's K and V rows are
 * written into its payload. `none` copies the paged cache's rows as they are; `int8` and
 * `fp8` (OCP FP8 E4M3) quantize each position's row per head, with one f32 scale per head,
 * so a payload row holds [n_heads f32 scales][n_heads x head_dim one-byte values]: about
 * half the bytes of f16 (head_dim 64: 0.53, 128: 0.52), loaded twice as fast from slow
 * storage. The library's KVS_DTYPE_INT8 / KVS_DTYPE_FP8_E4M3 name the same row format, and
 * the namespace includes the dtype, so chunks of two codecs never mix.
 *
 * Scales: int8 maps a head's largest magnitude to 127 (error at most half a step: 1/254 of
 * it); fp8 maps it to 448, E4M3's largest finite value (3 mantissa bits: relative error at
 * most 2^-4 for normal values). */
#ifndef KVSPILL_MODEL_KV_CODEC_H
#define KVSPILL_MODEL_KV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "model/kv_cache.h"

typedef enum kv_codec { KV_CODEC_NONE = 0, KV_CODEC_INT8, KV_CODEC_FP8 } kv_codec;

/* The widest head a quantizing codec takes (each head is staged as floats on the stack);
 * the engine refuses a codec for wider heads. */
enum { KV_CODEC_HEAD_MAX = 1024 };

/* "none", "int8", "fp8" (also "fp8_e4m3"); -1 when unknown. */
int kv_codec_parse(const char *s, kv_codec *out);
const char *kv_codec_name(kv_codec c);

/* Bytes of one position's row in a payload of codec c, for a cache of dtype t. */
size_t kv_codec_row_bytes(kv_codec c, kv_dtype t, uint32_t n_heads, uint32_t head_dim);

/* n_rows rows of the cache (dtype t, n_heads x head_dim elements each) into codec rows;
 * head_dim <= KV_CODEC_HEAD_MAX. */
void kv_codec_encode(kv_codec c, kv_dtype t, const void *src, uint8_t *dst, size_t n_rows,
                     uint32_t n_heads, uint32_t head_dim);
/* The inverse: codec rows back into the cache's dtype. */
void kv_codec_decode(kv_codec c, kv_dtype t, const uint8_t *src, void *dst, size_t n_rows,
                     uint32_t n_heads, uint32_t head_dim);

/* One E4M3 value: round to nearest even, saturating at ±448; NaN stays NaN (0x7f). */
uint8_t kv_fp8_from_f32(float x);
float kv_fp8_to_f32(uint8_t b);

#endif
