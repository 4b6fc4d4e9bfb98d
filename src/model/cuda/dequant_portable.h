/* One value of a weight row in any GGUF encoding the CPU handles, decoded exactly as
 * kernels_common.c's kern_dequant_row decodes the whole row, written once for the GPU (the
 * load-time expansion and the embedding lookup of dequant.cu) and the CPU
 * (tests/unit/test_dequant_portable.c compares it with kern_dequant_row). Bytes are read
 * one at a time, so rows need no alignment. */
#ifndef KVSPILL_MODEL_CUDA_DEQUANT_PORTABLE_H
#define KVSPILL_MODEL_CUDA_DEQUANT_PORTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/cuda/hd.h"
#include "model/kernels.h"

#ifdef __CUDA_ARCH__
#include <cuda_fp16.h>
#endif

static inline KVS_HD uint16_t kvs_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline KVS_HD float kvs_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline KVS_HD float kvs_rd_f16(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(kvs_rd16(p)));
#else
    return kern_f16_to_f32(kvs_rd16(p));
#endif
}

/* a·b rounded on its own. nvcc contracts a·b ± c·d into a fused multiply-add by default
 * (--fmad=true), which rounds once where the CPU (no FMA in the x86-64 baseline that
 * kernels_common.c is built for) rounds twice: the products that feed an addition go
 * through __fmul_rn on the device, which is never contracted. */
static inline KVS_HD float kvs_mul(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

static inline KVS_HD float kvs_rd_f32(const uint8_t *p)
{
    return kvs_bits_f32((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24);
}

/* Q4_K: the 6-bit scale and min of sub-block j (kern_q4k_scale_min). */
static inline KVS_HD void kvs_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Value i of a row of type t. */
static inline KVS_HD float kvs_dequant_value(kern_wtype t, const uint8_t *row, uint32_t i)
{
    switch (t) {
    case KW_F32: return kvs_rd_f32(row + 4 * (size_t)i);
    case KW_F16: return kvs_rd_f16(row + 2 * (size_t)i);
    case KW_BF16: return kvs_bits_f32((uint32_t)kvs_rd16(row + 2 * (size_t)i) << 16);
    case KW_Q8_0: {
        const uint8_t *b = row + 34 * (size_t)(i / 32);
        return kvs_rd_f16(b) * (float)(int8_t)b[2 + i % 32];
    }
    case KW_Q4_0: {
        /* 16 bytes: value j < 16 in the low nibble of byte j, value j + 16 in the high. */
        const uint8_t *b = row + 18 * (size_t)(i / 32);
        uint32_t j = i % 32;
        int q = j < 16 ? (b[2 + j] & 0xf) : (b[2 + j - 16] >> 4);
        return kvs_rd_f16(b) * (float)(q - 8);
    }
    case KW_Q4_K: {
        /* 4 chunks of 64 values: 32 low nibbles (sub-block 2c), then 32 high (2c+1). */
        const uint8_t *b = row + 144 * (size_t)(i / 256);
        uint32_t e = i % 256, c = e / 64, hi = (e % 64) / 32, l = e % 32;
        int sc, m;
        kvs_q4k_scale_min(b + 4, (int)(2 * c + hi), &sc, &m);
        uint8_t byte = b[16 + 32 * c + l];
        int q = hi ? byte >> 4 : byte & 0xf;
        return kvs_mul(kvs_rd_f16(b) * (float)sc, (float)q) -
               kvs_mul(kvs_rd_f16(b + 2), (float)m);
    }
    case KW_Q6_K: {
        /* Two halves of 128 values; each half is four groups of 32 (g) with the low 4 bits
         * in ql (g & 1 selects the byte, g >> 1 the nibble), the high 2 bits in qh (bits
         * 2g), and an int8 scale per 16 values. */
        const uint8_t *b = row + 210 * (size_t)(i / 256);
        uint32_t e = i % 256, half = e / 128, g = (e % 128) / 32, l = e % 32;
        const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * half);
        int lo = (ql[l + 32 * (g & 1)] >> (4 * (g >> 1))) & 0xf;
        int q = (lo | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
        return kvs_rd_f16(b + 208) * (float)sc[l / 16 + 2 * g] * (float)q;
    }
    case KW_COUNT: break;
    }
    return 0.0f;
}

#endif
