/* f32 -> f16 / bf16 / q8_0 conversions used by the GGUF generator. */
#include <math.h>
#include <string.h>

#include "model/gguf.h"
#include "model/quant_write.h"
#include "testutil.h"

static void test_f16(void **state)
{
    assert_int_equal(quant_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(quant_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(quant_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(quant_f32_to_f16(65520.0f), 0x7C00); /* rounds up to inf */
    assert_int_equal(quant_f32_to_f16(1.0f / 3.0f), 0x3555);
    assert_int_equal(quant_f32_to_f16(ldexpf(1.0f, -24)), 0x0001); /* smallest subnormal */
    assert_int_equal(quant_f32_to_f16(ldexpf(1.0f, -26)), 0x0000);
    assert_int_equal(quant_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00); /* tie to even */
    assert_int_equal(quant_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3C02);
    assert_int_equal(quant_f32_to_f16(INFINITY), 0x7C00);
    assert_true((quant_f32_to_f16(NAN) & 0x7C00) == 0x7C00 && (quant_f32_to_f16(NAN) & 0x3FF));
}

static void test_bf16(void **state)
{
    assert_int_equal(quant_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(quant_f32_to_bf16(1.00390625f), 0x3F80); /* tie to even */
    assert_int_equal(quant_f32_to_bf16(1.01171875f), 0x3F82);
    assert_int_equal(quant_f32_to_bf16(-0.0f), 0x8000);
    assert_true((quant_f32_to_bf16(NAN) & 0x7F80) == 0x7F80 && (quant_f32_to_bf16(NAN) & 0x7F));
}

static void test_q8_0(void **state)
{
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = i < 32 ? (float)(i - 16) : 0.0f;
    uint8_t out[68];
    assert_int_equal(quant_row(GGML_TYPE_Q8_0, x, 64, out), 0);
    uint16_t d;
    memcpy(&d, out, 2);
    assert_int_equal(d, quant_f32_to_f16(16.0f / 127.0f));
    assert_int_equal((int8_t)out[2], -127);     /* x = -16 */
    assert_int_equal((int8_t)out[2 + 16], 0);   /* x = 0 */
    assert_int_equal((int8_t)out[2 + 31], 119); /* x = 15: 15 * 127 / 16 = 119.06 */
    memcpy(&d, out + 34, 2);
    assert_int_equal(d, 0); /* an all-zero block */
    assert_int_equal(quant_row(GGML_TYPE_Q8_0, x, 40, out), -1);
    assert_int_equal(quant_row(GGML_TYPE_Q4_K, x, 64, out), -1);
    uint16_t h[2];
    assert_int_equal(quant_row(GGML_TYPE_F16, x, 2, h), 0);
    assert_int_equal(h[0], 0xCC00); /* -16 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_q8_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
