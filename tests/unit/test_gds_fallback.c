/* The gds tier without GPUDirect Storage: no GPU operations, no libcufile, or a directory
 * cuFile refuses. The tier then reads and writes through the file tier's POSIX path, says
 * why in io_path, frees what it set up, and everything else works; device chunks are
 * refused with that reason. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gds_fixture.h"

#define IO_PATH_MAX sizeof ((kvs_tier_stats *)0)->io_path

static const kvs_layout layout = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                  .dtype = KVS_DTYPE_F16};

static void ordinary_chunk_is_not_on_device(void **state)
{
    (void)state;
    gds_chain ch;
    gds_chain_init(&ch, 1, 1, 4, &layout);
    kvs_chunk *c = gds_host_chunk(&ch, 0);
    assert_false(kvs_chunk_on_device(c));
    kvs_chunk_release(c);
}

/* Opens a cache with GPU operations (or none) on a fresh directory, checks that device
 * chunks are refused with a message holding `why` and that host chunks round-trip, and
 * returns the gds tier's io_path in io_path (IO_PATH_MAX bytes). */
static void posix_cache(const kvs_gpu_ops *gpu, const char *why, char *io_path)
{
    char dir[4096];
    test_mkdtemp(dir, "gds-fallback");
    kvs_cache *cache = gds_cache(dir, gpu, false, 1u << 20);
    snprintf(io_path, IO_PATH_MAX, "%s", gds_tier_stats(cache, "gds").io_path);
    gds_chain ch;
    gds_chain_init(&ch, 2, 2, 16, &layout);
    kvs_chunk *c = (kvs_chunk *)&ch; /* must be reset to NULL */
    kvs_error err;
    assert_int_equal(gds_try_device_chunk(cache, &ch, 0, &c, &err), KVS_ERR_UNSUPPORTED);
    assert_null(c);
    if (!strstr(err.msg, why))
        fail_msg("device chunk refused with \"%s\", expected \"%s\" in it", err.msg, why);
    kvs_chunk *chunks[2] = {gds_host_chunk(&ch, 0), gds_host_chunk(&ch, 1)};
    gds_put(cache, chunks, 2);
    kvs_batch *b = gds_get(cache, &ch, 0, 2);
    assert_int_equal(kvs_batch_loaded(b), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_false(kvs_chunk_on_device(kvs_batch_chunk(b, i)));
        test_check_payload(kvs_batch_chunk(b, i), gds_seed(i));
    }
    kvs_batch_free(b);
    kvs_cache_close(cache);
    test_rmtree(dir);
}

static void no_gpu_operations(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    posix_cache(NULL, "kvs_config.gpu is NULL", io_path);
    assert_true(strstr(io_path, "O_DIRECT") || strstr(io_path, "buffered"));
}

/* With fake GPU operations: the fallback frees the staging buffer and leaves no cuFile
 * registration or session behind. */
static void check_fallback(const char *why, char *io_path)
{
    fake_gpu g;
    fake_gpu_init(&g);
    posix_cache(&g.ops, "the gds tier uses posix (no GPUDirect: ", io_path);
    if (!strstr(io_path, why))
        fail_msg("io_path \"%s\" lacks \"%s\"", io_path, why);
    assert_int_equal(atomic_load(&g.device_allocs), atomic_load(&g.device_frees));
    assert_int_equal(atomic_load(&g.host_allocs), atomic_load(&g.host_frees));
    fake_cufile_record r = fake_cufile(0);
    assert_int_equal(r.buffers_registered, 0);
    assert_int_equal(r.handles_registered, 0);
    assert_int_equal(r.drivers_open, 0);
}

static void libcufile_missing(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX], *fake = strdup(getenv("KVSPILL_CUFILE_LIB"));
    setenv("KVSPILL_CUFILE_LIB", "/nonexistent/libcufile.so.0", 1);
    check_fallback("posix (no GPUDirect: dlopen (KVSPILL_CUFILE_LIB): "
                   "/nonexistent/libcufile.so.0: cannot open shared object file", io_path);
    setenv("KVSPILL_CUFILE_LIB", fake, 1);
    free(fake);
}

static void handle_register_refused_at_the_probe(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    setenv("FAKE_CUFILE_HANDLE_REGISTER_ERROR", "5030", 1); /* overlayfs, tmpfs */
    check_fallback("cuFileHandleRegister ", io_path);
    unsetenv("FAKE_CUFILE_HANDLE_REGISTER_ERROR");
    assert_non_null(strstr(io_path, "/v1/.gds."));
    assert_non_null(strstr(io_path, ": error 5030 (internal error)"));
}

static void io_not_supported_without_compat_mode(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    setenv("FAKE_CUFILE_HANDLE_REGISTER_ERROR", "5008", 1);
    check_fallback("error 5008 (file system not supported and compat mode off)", io_path);
    unsetenv("FAKE_CUFILE_HANDLE_REGISTER_ERROR");
}

static void buffer_registration_refused(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    setenv("FAKE_CUFILE_BUF_REGISTER_ERROR", "5036", 1);
    check_fallback("cuFileBufRegister: error 5036 (GPU memory pinning failed)", io_path);
    unsetenv("FAKE_CUFILE_BUF_REGISTER_ERROR");
}

static void driver_open_refused(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    setenv("FAKE_CUFILE_DRIVER_OPEN_ERROR", "5025", 1);
    check_fallback("cuFileDriverOpen: error 5025 (permission denied", io_path);
    unsetenv("FAKE_CUFILE_DRIVER_OPEN_ERROR");
}

static void probe_write_fails(void **state)
{
    (void)state;
    char io_path[IO_PATH_MAX];
    setenv("FAKE_CUFILE_WRITE_ERROR", "5044", 1);
    check_fallback("cuFileWrite ", io_path);
    unsetenv("FAKE_CUFILE_WRITE_ERROR");
    assert_non_null(strstr(io_path, "error 5044 (I/O error)"));
}

static void compat_mode_is_reported(void **state)
{
    (void)state;
    fake_gpu g;
    fake_gpu_init(&g);
    char dir[4096];
    test_mkdtemp(dir, "gds-compat");
    setenv("FAKE_CUFILE_COMPAT_MODE", "1", 1);
    kvs_cache *cache = gds_cache(dir, &g.ops, false, 1u << 20);
    unsetenv("FAKE_CUFILE_COMPAT_MODE");
    assert_string_equal(gds_tier_stats(cache, "gds").io_path, "cufile (compat mode)");
    kvs_cache_close(cache);
    test_rmtree(dir);
}

static void gpu_operations_must_be_complete(void **state)
{
    (void)state;
    fake_gpu g;
    fake_gpu_init(&g);
    g.ops.xxh3_64 = NULL;
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.gpu = &g.ops;
    kvs_cache *cache = NULL;
    kvs_error err;
    assert_int_equal(kvs_cache_open(&cfg, &cache, &err), KVS_ERR_INVALID);
    assert_null(cache);
    assert_non_null(strstr(err.msg, "gpu operations"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ordinary_chunk_is_not_on_device),
        cmocka_unit_test(no_gpu_operations),
        cmocka_unit_test(libcufile_missing),
        cmocka_unit_test(handle_register_refused_at_the_probe),
        cmocka_unit_test(io_not_supported_without_compat_mode),
        cmocka_unit_test(buffer_registration_refused),
        cmocka_unit_test(driver_open_refused),
        cmocka_unit_test(probe_write_fails),
        cmocka_unit_test(compat_mode_is_reported),
        cmocka_unit_test(gpu_operations_must_be_complete),
    };
    fake_cufile(1); /* loaded before tests point KVSPILL_CUFILE_LIB elsewhere */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
