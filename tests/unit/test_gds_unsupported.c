/* Device chunks where there is no GPUDirect path: ordinary chunks are never on the device,
 * kvs_chunk_new_device says why it cannot give one, and file tiers report their io_path. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "test_chunks.h"

static const kvs_layout layout = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                  .dtype = KVS_DTYPE_F16};

static void ordinary_chunk_is_not_on_device(void **state)
{
    (void)state;
    kvs_key ns = {{1}};
    int32_t tokens[4] = {1, 2, 3, 4};
    kvs_chunk *c = test_chunk(&ns, &ns, 0, tokens, 4, &layout, 7);
    assert_false(kvs_chunk_on_device(c));
    kvs_chunk_release(c);
}

static kvs_status new_device(kvs_cache *cache, kvs_chunk **out, kvs_error *err)
{
    kvs_key ns = {{1}}, key;
    int32_t tokens[4] = {1, 2, 3, 4};
    kvs_key_next(&ns, tokens, 4, &key);
    return kvs_chunk_new_device(cache, &ns, &ns, &key, 0, tokens, 4, &layout, out, err);
}

static void no_gpu_ops_means_unsupported(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "gds-nogpu");
    kvs_config cfg;
    kvs_config_init(&cfg);
    snprintf(cfg.gds_path, sizeof cfg.gds_path, "%s", dir);
    kvs_cache *cache = NULL;
    kvs_error err;
    assert_int_equal(kvs_cache_open(&cfg, &cache, &err), KVS_OK);
    kvs_chunk *c = (kvs_chunk *)&err; /* must be reset to NULL */
    assert_int_equal(new_device(cache, &c, &err), KVS_ERR_UNSUPPORTED);
    assert_null(c);
    assert_non_null(strstr(err.msg, "kvs_config.gpu"));

    kvs_stats s;
    kvs_cache_stats(cache, &s);
    assert_int_equal(s.n_tiers, 2);
    assert_string_equal(s.tiers[0].io_path, ""); /* mem */
    assert_string_equal(s.tiers[1].name, "gds");
    assert_true(strstr(s.tiers[1].io_path, "O_DIRECT") || strstr(s.tiers[1].io_path, "buffered"));
    kvs_cache_close(cache);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ordinary_chunk_is_not_on_device),
        cmocka_unit_test(no_gpu_ops_means_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
