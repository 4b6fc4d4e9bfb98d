/* The portable XXH3-64 of src/cache/cuda/xxh3_portable.h (the algorithm the GPU checksum
 * runs) against libxxhash's XXH3_64bits: every length 0..2048 (each short-input path, the
 * block and stripe boundaries of the long one) and large inputs of 1 MiB and more plus odd
 * tails, at aligned and unaligned start addresses. */
#include "testutil.h"

#include <stdlib.h>
#include <xxhash.h>

#include "cache/cuda/xxh3_portable.h"

static void check_lengths(const uint8_t *buf, size_t from, size_t to)
{
    for (size_t len = from; len <= to; len++) {
        uint64_t want = XXH3_64bits(buf, len);
        uint64_t got = kvs_xxh3_64(buf, len, kvs_xxh3_host_secret());
        if (got != want)
            fail_msg("length %zu: portable %016llx, libxxhash %016llx", len,
                     (unsigned long long)got, (unsigned long long)want);
    }
}

static void test_every_length_to_2048(void **state)
{
    (void)state;
    uint8_t *buf = malloc(2048 + 1);
    assert_non_null(buf);
    test_fill_random(buf, 2048 + 1, 7);
    check_lengths(buf, 0, 2048);
    check_lengths(buf + 1, 0, 2048); /* unaligned start */
    free(buf);
}

static void test_large_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1u << 20, (1u << 20) + 1, (1u << 20) + 63, (1u << 20) + 1023,
                                   (1u << 20) + 1025, 3u << 20 | 4097, 5000003};
    size_t max = 5000003 + 1;
    uint8_t *buf = malloc(max);
    assert_non_null(buf);
    test_fill_random(buf, max, 11);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_lengths(buf, sizes[i], sizes[i]);
        check_lengths(buf + 1, sizes[i], sizes[i]);
    }
    free(buf);
}

static void test_zero_bytes(void **state)
{
    (void)state;
    uint8_t *buf = calloc(1, 70000);
    assert_non_null(buf);
    check_lengths(buf, 65530, 65540);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_to_2048),
        cmocka_unit_test(test_large_sizes),
        cmocka_unit_test(test_zero_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
