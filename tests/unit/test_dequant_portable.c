/* The portable weight decoder of src/model/cuda/dequant_portable.h (what the GPU runs to
 * expand weights at load and to look up embedding rows) against kern_dequant_row, value by
 * value and bit for bit, for every weight type on rows of random blocks with finite F16
 * scales (moderate ones, and every fourth block any finite value: negative, subnormal,
 * 65504). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "model/cuda/dequant_portable.h"
#include "model/kernels.h"

#define ROW_ELEMS 1024 /* four K-quant super-blocks, 32 blocks of 32 */

static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void put_f16(uint8_t *p, float v)
{
    uint16_t h = kern_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* A finite F16 scale: mostly a moderate positive one, and every fourth block any finite bit
 * pattern (negative, subnormal, up to 65504). */
static void put_scale(uint8_t *p, uint32_t block, float moderate)
{
    if (block % 4 != 3) {
        put_f16(p, moderate);
        return;
    }
    uint16_t h;
    do
        h = (uint16_t)next_rand();
    while ((h & 0x7c00) == 0x7c00);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* Random bytes, with every F16 field of the encoding set to a finite scale, so that both
 * decoders see numbers (NaN would not compare). */
static void fill_row(kern_wtype t, uint8_t *row, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        row[i] = (uint8_t)next_rand();
    uint32_t be = kern_wtype_block_bytes(t), n_blocks = (uint32_t)(bytes / be);
    for (uint32_t b = 0; b < n_blocks; b++) {
        uint8_t *blk = row + (size_t)b * be;
        float scale = (float)(next_rand() % 1000 + 1) / 997.0f;
        switch (t) {
        case KW_F16:
            put_scale(blk, b, scale - 0.5f);
            break;
        case KW_F32: {
            float v = scale - 0.5f;
            memcpy(blk, &v, sizeof v);
            break;
        }
        case KW_BF16: blk[1] &= 0x3f; break; /* exponent well below infinity */
        case KW_Q8_0:
        case KW_Q4_0: put_scale(blk, b, scale); break;
        case KW_Q4_K:
            put_scale(blk, b, scale);
            put_scale(blk + 2, b, scale / 4);
            break;
        case KW_Q6_K: put_scale(blk + 208, b, scale); break;
        case KW_COUNT: break;
        }
    }
}

static void test_every_type_matches_kern_dequant_row(void **state)
{
    (void)state;
    for (int t = 0; t < KW_COUNT; t++) {
        kern_wtype wt = (kern_wtype)t;
        size_t bytes = ROW_ELEMS / kern_wtype_block_elems(wt) * kern_wtype_block_bytes(wt);
        uint8_t *row = malloc(bytes + 1);
        float want[ROW_ELEMS];
        assert_non_null(row);
        for (int trial = 0; trial < 20; trial++) {
            uint8_t *r = row + (trial & 1); /* odd addresses too */
            fill_row(wt, r, bytes);
            kern_dequant_row(wt, r, want, ROW_ELEMS);
            for (uint32_t i = 0; i < ROW_ELEMS; i++) {
                float got = kvs_dequant_value(wt, r, i);
                if (memcmp(&got, &want[i], sizeof got) != 0)
                    fail_msg("%s value %u: portable %.9g, kern_dequant_row %.9g",
                             kern_wtype_name(wt), i, got, want[i]);
            }
        }
        free(row);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_matches_kern_dequant_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
