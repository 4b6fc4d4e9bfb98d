/* Configuration: defaults, LMCache keys and units, environment, YAML, errors naming keys. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvspill.h"

#define GIB (1024ull * 1024 * 1024)
#define MIB (1024ull * 1024)

static const char *const env_names[] = {
    "LMCACHE_CONFIG_FILE", "LMCACHE_CHUNK_SIZE", "LMCACHE_LOCAL_CPU",
    "LMCACHE_MAX_LOCAL_CPU_SIZE", "LMCACHE_LOCAL_DISK", "LMCACHE_MAX_LOCAL_DISK_SIZE",
    "LMCACHE_GDS_PATH", "LMCACHE_CUFILE_BUFFER_SIZE", "LMCACHE_SAVE_UNFULL_CHUNK",
    "LMCACHE_SAVE_DECODE_CACHE",
    "LMCACHE_REMOTE_URL", "LMCACHE_DURABILITY", "LMCACHE_IO_THREADS", "LMCACHE_IO_DEPTH",
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
    kvs_config c;
    kvs_config_init(&c);
    assert_true(c.local_cpu);
    assert_int_equal(c.max_local_cpu_size, 5 * GIB);
    assert_string_equal(c.local_disk, "");
    assert_int_equal(c.max_local_disk_size, 0);
    assert_string_equal(c.gds_path, "");
    assert_string_equal(c.remote_url, "");
    assert_int_equal(c.durability, KVS_DURABILITY_NONE);
    assert_int_equal(c.max_write_queue_size, GIB);
    assert_int_equal(c.io_threads, 4);
    assert_int_equal(c.io_depth, 32);
    assert_int_equal(c.file_mode, 0600);
    assert_non_null(strchr(c.writer_id, ':'));
}

static void test_set_units(void **state)
{
    (void)state;
    kvs_config c;
    kvs_config_init(&c);
    assert_int_equal(kvs_config_set(&c, "max_local_cpu_size", "0.5", NULL), KVS_OK);
    assert_int_equal(c.max_local_cpu_size, GIB / 2);
    assert_int_equal(kvs_config_set(&c, "max_local_disk_size", "20", NULL), KVS_OK);
    assert_int_equal(c.max_local_disk_size, 20 * GIB);
    assert_int_equal(kvs_config_set(&c, "max_gds_size", "1.25", NULL), KVS_OK);
    assert_int_equal(c.max_gds_size, 5 * GIB / 4);
    assert_int_equal(kvs_config_set(&c, "cufile_buffer_size", "256", NULL), KVS_OK);
    assert_int_equal(c.cufile_buffer_size, 256 * MIB);
    assert_int_equal(kvs_config_set(&c, "gds_buffer_size", "64", NULL), KVS_OK);
    assert_int_equal(c.cufile_buffer_size, 64 * MIB);
    assert_int_equal(kvs_config_set(&c, "max_write_queue_size", "0.001", NULL), KVS_OK);
    assert_int_equal(c.max_write_queue_size, (uint64_t)(0.001 * (double)GIB));
    assert_int_equal(kvs_config_set(&c, "durability", "data", NULL), KVS_OK);
    assert_int_equal(c.durability, KVS_DURABILITY_DATA);
    assert_int_equal(kvs_config_set(&c, "io_threads", "8", NULL), KVS_OK);
    assert_int_equal(c.io_threads, 8);
    assert_int_equal(kvs_config_set(&c, "io_depth", "64", NULL), KVS_OK);
    assert_int_equal(c.io_depth, 64);
    assert_int_equal(kvs_config_set(&c, "local_disk", "file:///mnt/nvme/kv", NULL), KVS_OK);
    assert_string_equal(c.local_disk, "file:///mnt/nvme/kv");
    assert_int_equal(kvs_config_set(&c, "gds_path", "/mnt/shared/kv", NULL), KVS_OK);
    assert_string_equal(c.gds_path, "/mnt/shared/kv");
    assert_int_equal(kvs_config_set(&c, "remote_url", "redis://cache:6379", NULL), KVS_OK);
    assert_string_equal(c.remote_url, "redis://cache:6379");
    assert_int_equal(kvs_config_set(&c, "file_mode", "0660", NULL), KVS_OK);
    assert_int_equal(c.file_mode, 0660);
    assert_int_equal(kvs_config_set(&c, "file_mode", "640", NULL), KVS_OK);
    assert_int_equal(c.file_mode, 0640);
}

static void test_booleans(void **state)
{
    (void)state;
    kvs_config c;
    kvs_config_init(&c);
    const char *truths[] = {"True", "true", "1", "TRUE"};
    const char *lies[] = {"False", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        c.local_cpu = false;
        assert_int_equal(kvs_config_set(&c, "local_cpu", truths[i], NULL), KVS_OK);
        assert_true(c.local_cpu);
    }
    for (size_t i = 0; i < 3; i++) {
        c.local_cpu = true;
        assert_int_equal(kvs_config_set(&c, "local_cpu", lies[i], NULL), KVS_OK);
        assert_false(c.local_cpu);
    }
}

static void expect_error(const char *key, const char *value)
{
    kvs_config c;
    kvs_config_init(&c);
    kvs_config before = c;
    kvs_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(kvs_config_set(&c, key, value, &err), KVS_ERR_INVALID);
    assert_int_equal(err.code, KVS_ERR_INVALID);
    if (!strstr(err.msg, key))
        fail_msg("error for %s='%s' does not name the key: %s", key, value, err.msg);
    assert_memory_equal(&c, &before, sizeof c); /* a bad value changes nothing */
}

static void test_malformed_values(void **state)
{
    (void)state;
    expect_error("io_depth", "0");
    expect_error("io_depth", "-16");
    expect_error("io_depth", "abc");
    expect_error("io_depth", "16x");
    expect_error("io_depth", "");
    expect_error("max_local_cpu_size", "-1");
    expect_error("max_local_cpu_size", "lots");
    expect_error("max_local_cpu_size", "nan");
    expect_error("max_local_cpu_size", "1e30");
    expect_error("max_local_disk_size", "5GB");
    expect_error("cufile_buffer_size", "-3");
    expect_error("local_cpu", "yes please");
    expect_error("local_cpu", "2");
    expect_error("durability", "fsync");
    expect_error("file_mode", "0400"); /* the owner must be able to write */
    expect_error("file_mode", "0680");
    expect_error("file_mode", "01600");
    expect_error("file_mode", "rw-------");
    expect_error("io_threads", "0");
    expect_error("io_depth", "1000000");
    expect_error("local_disk", "file://relative/path");
    expect_error("remote_url", "lm://host:65432");
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    assert_int_equal(kvs_config_set(&c, "no_such_key", "1", &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no_such_key"));
}

static void test_env(void **state)
{
    (void)state;
    setenv("LMCACHE_IO_DEPTH", "64", 1);
    setenv("LMCACHE_LOCAL_CPU", "False", 1);
    setenv("LMCACHE_MAX_LOCAL_CPU_SIZE", "2", 1);
    setenv("LMCACHE_LOCAL_DISK", "file:///tmp/kv", 1);
    setenv("LMCACHE_MAX_LOCAL_DISK_SIZE", "10.5", 1);
    setenv("LMCACHE_CUFILE_BUFFER_SIZE", "512", 1);
    setenv("LMCACHE_CHUNK_SIZE", "not the library's", 1); /* the engine's key */
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    assert_int_equal(kvs_config_from_env(&c, &err), KVS_OK);
    assert_int_equal(c.io_depth, 64);
    assert_false(c.local_cpu);
    assert_int_equal(c.max_local_cpu_size, 2 * GIB);
    assert_string_equal(c.local_disk, "file:///tmp/kv");
    assert_int_equal(c.max_local_disk_size, 21 * GIB / 2);
    assert_int_equal(c.cufile_buffer_size, 512 * MIB);
    assert_int_equal(c.io_threads, 4); /* untouched */

    setenv("LMCACHE_IO_DEPTH", "sixty-four", 1);
    assert_int_equal(kvs_config_from_env(&c, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "LMCACHE_IO_DEPTH"));
    assert_non_null(strstr(err.msg, "sixty-four"));
}

static void test_yaml_file(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    test_mkdtemp(dir, "config");
    test_path(path, dir, "lmcache.yaml");
    /* An LMCache-style file: their keys and units, plus options of theirs we ignore. */
    test_write_file(path, "# LMCache configuration\n"
                     "chunk_size: 128\n"
                     "io_depth: 128\n"
                     "local_cpu: True\n"
                     "max_local_cpu_size: 20.0\n"
                     "local_disk: \"file:///mnt/nvme/lmcache/\"\n"
                     "max_local_disk_size: 100\n"
                     "gds_path: /mnt/nfs/kv\n"
                     "cufile_buffer_size: 8192\n"
                     "remote_url: null\n"
                     "save_unfull_chunk: false\n"
                     "use_layerwise: False\n"
                     "pre_caching_hash_algorithm: sha256_cbor\n"
                     "extra_config:\n"
                     "  use_direct_io: true\n"
                     "  disk_io_threads: 8\n"
                     "retrieve_locations: [LocalCPUBackend, GdsBackend]\n"
                     "durability: data\n");
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    if (kvs_config_from_yaml_file(&c, path, &err) != KVS_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c.io_depth, 128);
    assert_true(c.local_cpu);
    assert_int_equal(c.max_local_cpu_size, 20 * GIB);
    assert_string_equal(c.local_disk, "file:///mnt/nvme/lmcache/");
    assert_int_equal(c.max_local_disk_size, 100 * GIB);
    assert_string_equal(c.gds_path, "/mnt/nfs/kv");
    assert_int_equal(c.cufile_buffer_size, 8192 * MIB);
    assert_string_equal(c.remote_url, "");
    assert_int_equal(c.durability, KVS_DURABILITY_DATA);

    /* An empty file changes nothing. */
    test_write_file(path, "");
    assert_int_equal(kvs_config_from_yaml_file(&c, path, &err), KVS_OK);
    assert_int_equal(c.io_depth, 128);
    test_rmtree(dir);
}

static void expect_yaml_error(const char *text, const char *want1, const char *want2)
{
    char dir[4096], path[4096];
    test_mkdtemp(dir, "config");
    test_path(path, dir, "bad.yaml");
    test_write_file(path, text);
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    assert_int_not_equal(kvs_config_from_yaml_file(&c, path, &err), KVS_OK);
    if (!strstr(err.msg, path) || !strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err.msg, want1, want2 ? want2 : "");
    test_rmtree(dir);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    expect_yaml_error("chunk_size: 256\nmax_local_cpu_size: five\n", ":2:", "max_local_cpu_size");
    expect_yaml_error("local_cpu: true\n\nio_depth: [1, 2]\n", ":3:", "io_depth");
    expect_yaml_error("chunk_size: 256\n  bad indent: [\n", ":2", NULL);
    expect_yaml_error("- a list\n- not a mapping\n", ":1:", "mapping");
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    assert_int_equal(kvs_config_from_yaml_file(&c, "/nonexistent/kvspill.yaml", &err),
                     KVS_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/kvspill.yaml"));
}

static void test_config_file_overrides_env(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    test_mkdtemp(dir, "config");
    test_path(path, dir, "lmcache.yaml");
    test_write_file(path, "io_depth: 32\n");
    setenv("LMCACHE_CONFIG_FILE", path, 1);
    setenv("LMCACHE_IO_DEPTH", "64", 1);
    setenv("LMCACHE_IO_THREADS", "not a number", 1); /* ignored with a file */
    kvs_config c;
    kvs_config_init(&c);
    kvs_error err;
    assert_int_equal(kvs_config_from_env(&c, &err), KVS_OK);
    assert_int_equal(c.io_depth, 32);
    assert_int_equal(c.io_threads, 4);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_units),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_malformed_values),
        cmocka_unit_test_setup_teardown(test_env, clear_env, clear_env),
        cmocka_unit_test(test_yaml_file),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test_setup_teardown(test_config_file_overrides_env, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
