/* --gpu-memory-utilization: the KV pool gets the instance's share of device memory less
 * what is in use, and a share too small for one full-length sequence is an error that
 * names the figures. */
#include "testutil.h"

#include <string.h>

#include "engine/kv_sizing.h"

#define GIB (1ull << 30)

static void test_share_less_in_use(void **state)
{
    (void)state;
    uint64_t bytes;
    engine_error err;
    /* 80 GiB device, 30 GiB in use (weights): 0.85 x 80 = 68, 38 left for the KV cache. */
    assert_int_equal(kv_sizing_from_utilization(0.85, 50 * GIB, 80 * GIB, GIB, &bytes, &err), 0);
    assert_int_equal(bytes, (uint64_t)(0.85 * 80 * GIB) - 30 * GIB);
    assert_int_equal(kv_sizing_from_utilization(1.0, 80 * GIB, 80 * GIB, 0, &bytes, &err), 0);
    assert_int_equal(bytes, 80 * GIB);
}

static void test_too_little_is_an_error(void **state)
{
    (void)state;
    uint64_t bytes = 1;
    engine_error err;
    /* 0.5 x 80 = 40 GiB share, 45 GiB in use. */
    assert_int_equal(kv_sizing_from_utilization(0.5, 35 * GIB, 80 * GIB, GIB, &bytes, &err), -1);
    assert_int_equal(bytes, 0);
    assert_non_null(strstr(err.msg, "--gpu-memory-utilization 0.5"));
    assert_non_null(strstr(err.msg, "45.0 GiB of the device's 80.0 GiB is in use"));
    /* A share above what is in use but below one sequence's KV. */
    assert_int_equal(kv_sizing_from_utilization(0.5, 79 * GIB, 80 * GIB, 40 * GIB, &bytes, &err),
                     -1);
    assert_non_null(strstr(err.msg, "less than the 40.00 GiB it needs"));
    assert_int_equal(kv_sizing_from_utilization(0.0, 79 * GIB, 80 * GIB, 0, &bytes, &err), -1);
    assert_int_equal(kv_sizing_from_utilization(1.5, 79 * GIB, 80 * GIB, 0, &bytes, &err), -1);
    assert_int_equal(kv_sizing_from_utilization(0.9, 81 * GIB, 80 * GIB, 0, &bytes, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_less_in_use),
        cmocka_unit_test(test_too_little_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
