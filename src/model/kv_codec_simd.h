/* The KV codec's head loops for an f16 cache with AVX2 and F16C (kv_codec_avx2.c, built
 * with those flags only), which kv_codec.c uses when the CPU has them and the kernels are
 * not forced to scalar (KVSPILL_KERNELS). n is a multiple of 8. Their results equal the
 * portable loops' bit for bit (test_kv_codec). */
#ifndef KVSPILL_MODEL_KV_CODEC_SIMD_H
#define KVSPILL_MODEL_KV_CODEC_SIMD_H

#include <stdint.h>

#include "model/kv_codec.h"

/* The head's largest magnitude (its scale is that / 127 or / 448). */
float kv_codec_amax_f16_avx2(const uint16_t *x, uint32_t n);
/* q[i] = the codec's byte for x[i] * inv. */
void kv_codec_encode_f16_avx2(kv_codec c, const uint16_t *x, float inv, uint8_t *q, uint32_t n);
/* x[i] = f16 of value(q[i]) * scale. */
void kv_codec_decode_f16_avx2(kv_codec c, const uint8_t *q, float scale, uint16_t *x, uint32_t n);

#endif
