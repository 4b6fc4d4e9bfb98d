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
#include "random_weights.h"

#define ROW_ELEMS 1024 /* four K-quant super-blocks, 32 blocks of 32 */

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
            rw_fill_row(wt, r, bytes);
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
