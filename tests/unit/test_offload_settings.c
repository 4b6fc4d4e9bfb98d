/* The connector's settings (chunk_size, save_unfull_chunk, save_decode_cache, kv_codec): the
 * engine's, read from the same LMCACHE_* variables and LMCACHE_CONFIG_FILE as the
 * library's tiers, with the same rules and errors naming the source. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static const char *const env_names[] = {
    "LMCACHE_CONFIG_FILE", "LMCACHE_CHUNK_SIZE", "LMCACHE_SAVE_UNFULL_CHUNK",
    "LMCACHE_SAVE_DECODE_CACHE", "LMCACHE_KV_CODEC",
};

static int clear_env(void **state)
{
    (void)state;
    test_unsetenv_all(env_names, sizeof env_names / sizeof env_names[0]);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    engine_config c;
    engine_config_init(&c);
    engine_error err;
    assert_int_equal(engine_offload_settings_from_env(&c, &err), 0);
    assert_int_equal(c.chunk_size, 256);
    assert_false(c.save_unfull_chunk);
    assert_false(c.save_decode_cache);
    assert_int_equal(c.kv_codec, KV_CODEC_NONE);
}

static void test_env(void **state)
{
    (void)state;
    setenv("LMCACHE_CHUNK_SIZE", "64", 1);
    setenv("LMCACHE_SAVE_UNFULL_CHUNK", "1", 1);
    setenv("LMCACHE_SAVE_DECODE_CACHE", "True", 1);
    setenv("LMCACHE_KV_CODEC", "int8", 1);
    engine_config c;
    engine_config_init(&c);
    engine_error err;
    assert_int_equal(engine_offload_settings_from_env(&c, &err), 0);
    assert_int_equal(c.chunk_size, 64);
    assert_true(c.save_unfull_chunk);
    assert_true(c.save_decode_cache);
    assert_int_equal(c.kv_codec, KV_CODEC_INT8);

    const char *bad[][2] = {{"LMCACHE_CHUNK_SIZE", "sixty-four"}, {"LMCACHE_CHUNK_SIZE", "0"},
                            {"LMCACHE_CHUNK_SIZE", "2000000"},
                            {"LMCACHE_SAVE_DECODE_CACHE", "yes please"},
                            {"LMCACHE_KV_CODEC", "int4"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clear_env(NULL);
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(engine_offload_settings_from_env(&c, &err), -1);
        if (!strstr(err.msg, bad[i][0]) || !strstr(err.msg, bad[i][1]))
            fail_msg("error for %s=%s does not name both: %s", bad[i][0], bad[i][1], err.msg);
    }
}

static void test_config_file(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    test_mkdtemp(dir, "offload-settings");
    test_path(path, dir, "lmcache.yaml");
    /* The library's keys and LMCache's other options beside the connector's: ignored here. */
    test_write_file(path, "chunk_size: 128\n"
                     "local_cpu: True\n"
                     "save_unfull_chunk: true\n"
                     "kv_codec: fp8\n"
                     "extra_config:\n"
                     "  use_direct_io: true\n");
    setenv("LMCACHE_CONFIG_FILE", path, 1);
    setenv("LMCACHE_CHUNK_SIZE", "not a number", 1); /* ignored with a file */
    engine_config c;
    engine_config_init(&c);
    engine_error err;
    if (engine_offload_settings_from_env(&c, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(c.chunk_size, 128);
    assert_true(c.save_unfull_chunk);
    assert_false(c.save_decode_cache);
    assert_int_equal(c.kv_codec, KV_CODEC_FP8);

    test_write_file(path, "local_cpu: true\n\nchunk_size: [1, 2]\n");
    assert_int_equal(engine_offload_settings_from_env(&c, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, ":3:") || !strstr(err.msg, "chunk_size"))
        fail_msg("error '%s' does not name the file, line 3 and chunk_size", err.msg);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_env, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_file, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
