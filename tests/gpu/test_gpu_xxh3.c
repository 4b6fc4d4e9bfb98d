/* kvs_xxh3_64_device (XXH3-64 of device memory, computed on the device) equals libxxhash's
 * XXH3_64bits of the same bytes: every short-input path, block and stripe boundaries of
 * the long path, large buffers, aligned and unaligned starts. */
#include <cuda_runtime_api.h>
#include <xxhash.h>

#include "gpu_fixture.h"
#include "kvspill.h"
#include "model/cuda/cuda_device.h"

/* kvs_xxh3_64_device on device 0, as the engine's GPU operations call it. */
static kvs_status device_xxh3(const void *src, size_t n, uint64_t *out, kvs_error *err)
{
    int rc = cuda_bind_thread(0);
    if (rc)
        fail_msg("cudaSetDevice(0): %s", cuda_device_error_string(rc));
    return kvs_xxh3_64_device(src, n, out, err);
}

static void test_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,    1,    3,    4,    8,         9,          16,
                                   17,   128,  129,  240,  241,       1023,       1024,
                                   1025, 2048, 4097, 65536 + 13, 1u << 20, (1u << 20) + 7,
                                   (64u << 20) + 5};
    size_t max = (64u << 20) + 5 + 1;
    uint8_t *host = malloc(max);
    assert_non_null(host);
    test_fill_random(host, max, 42);
    void *dev = cuda_device_alloc(0, max);
    assert_non_null(dev);
    assert_int_equal(cuda_copy_to_device(0, dev, host, max), 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t off = 0; off < 2; off++) {
            uint64_t got;
            kvs_error err;
            if (device_xxh3((uint8_t *)dev + off, sizes[i], &got, &err) != KVS_OK)
                fail_msg("%s", err.msg);
            uint64_t want = XXH3_64bits(host + off, sizes[i]);
            if (got != want)
                fail_msg("%zu bytes at offset %zu: device %016llx, libxxhash %016llx", sizes[i],
                         off, (unsigned long long)got, (unsigned long long)want);
        }
    cuda_device_free(0, dev);
    free(host);
}

static void test_every_length_to_2048(void **state)
{
    (void)state;
    uint8_t host[2048];
    test_fill_random(host, sizeof host, 7);
    void *dev = cuda_device_alloc(0, sizeof host);
    assert_non_null(dev);
    assert_int_equal(cuda_copy_to_device(0, dev, host, sizeof host), 0);
    for (size_t n = 0; n <= sizeof host; n++) {
        uint64_t got;
        assert_int_equal(device_xxh3(dev, n, &got, NULL), KVS_OK);
        if (got != XXH3_64bits(host, n))
            fail_msg("%zu bytes: device and libxxhash differ", n);
    }
    cuda_device_free(0, dev);
}

int main(void)
{
    gpu_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_every_length_to_2048),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
