/* Rows of random weight blocks in any GGUF encoding, with every F16 field a finite scale
 * (NaN would not compare): moderate positive scales, and every fourth block any finite bit
 * pattern (negative, subnormal, up to 65504), so that decoders are compared over the whole
 * F16 range. Header-only, for the tests of the weight decoders (CPU and GPU). */
#ifndef KVSPILL_TEST_RANDOM_WEIGHTS_H
#define KVSPILL_TEST_RANDOM_WEIGHTS_H

#include <stdint.h>
#include <string.h>

#include "model/kernels.h"

static uint64_t rw_state = 0x2545F4914F6CDD1Dull;

static inline uint32_t rw_next(void)
{
    rw_state ^= rw_state << 13, rw_state ^= rw_state >> 7, rw_state ^= rw_state << 17;
    return (uint32_t)(rw_state >> 32);
}

static inline void rw_put_f16(uint8_t *p, float v)
{
    uint16_t h = kern_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

static inline void rw_put_scale(uint8_t *p, uint32_t block, float moderate)
{
    if (block % 4 != 3) {
        rw_put_f16(p, moderate);
        return;
    }
    uint16_t h;
    do
        h = (uint16_t)rw_next();
    while ((h & 0x7c00) == 0x7c00);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* bytes (whole blocks of type t) of random weights at row. */
static inline void rw_fill_row(kern_wtype t, uint8_t *row, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        row[i] = (uint8_t)rw_next();
    uint32_t be = kern_wtype_block_bytes(t), n_blocks = (uint32_t)(bytes / be);
    for (uint32_t b = 0; b < n_blocks; b++) {
        uint8_t *blk = row + (size_t)b * be;
        float scale = (float)(rw_next() % 1000 + 1) / 997.0f;
        switch (t) {
        case KW_F16:
            rw_put_scale(blk, b, scale - 0.5f);
            break;
        case KW_F32: {
            float v = scale - 0.5f;
            memcpy(blk, &v, sizeof v);
            break;
        }
        case KW_BF16:
            blk[1] &= 0x3f; /* exponent well below infinity */
            break;
        case KW_Q8_0:
        case KW_Q4_0:
            rw_put_scale(blk, b, scale);
            break;
        case KW_Q4_K:
            rw_put_scale(blk, b, scale);
            rw_put_scale(blk + 2, b, scale / 4);
            break;
        case KW_Q6_K:
            rw_put_scale(blk + 208, b, scale);
            break;
        case KW_COUNT:
            break;
        }
    }
}

#endif
