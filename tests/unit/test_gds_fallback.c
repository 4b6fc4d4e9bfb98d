/* The gds tier without GPUDirect Storage: no GPU operations, no libcufile, or a directory
 * cuFile refuses. The tier then reads and writes through the file tier's POSIX path, says
 * why in io_path, frees what it set up, and everything else works; device chunks are
 * refused with that reason. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tier_file.h"
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
 * registration or session behind. io_path must hold why. */
static void check_fallback(const char *why, char *io_path)
{
    fake_gpu g;
    fake_gpu_init(&g);
    posix_cache(&g.ops, "the gds tier uses posix (no GPUDirect: ", io_path);
    if (!strstr(io_path, why))
        fail_msg("io_path \"%s\" lacks \"%s\"", io_path, why);
    gds_check_released(&g);
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

/* A cuFile call that fails at open, through the fake's environment variables, and what
 * io_path must then say: the call (with the probe file for the per-file calls) and the
 * error. */
static const struct injected_failure {
    const char *variable, *code, *call, *error;
} failures[] = {
    /* overlayfs, tmpfs, or no /run/udev in a container */
    {"FAKE_CUFILE_HANDLE_REGISTER_ERROR", "5030", "cuFileHandleRegister ",
     "/v1/.gds.*: error 5030 (internal error)"},
    /* a mount that cannot do GDS, compat mode off */
    {"FAKE_CUFILE_HANDLE_REGISTER_ERROR", "5008", "cuFileHandleRegister ",
     ": error 5008 (file system not supported and compat mode off)"},
    {"FAKE_CUFILE_BUF_REGISTER_ERROR", "5036", "cuFileBufRegister: ",
     "error 5036 (GPU memory pinning failed)"},
    {"FAKE_CUFILE_DRIVER_OPEN_ERROR", "5025", "cuFileDriverOpen: ",
     "error 5025 (permission denied"},
    {"FAKE_CUFILE_WRITE_ERROR", "5044", "cuFileWrite ", "/v1/.gds.*: error 5044 (I/O error)"},
};

/* Whether text holds want, where a '*' in want stands for any characters. */
static bool holds(const char *text, const char *want)
{
    const char *star = strchr(want, '*');
    if (!star)
        return strstr(text, want) != NULL;
    char head[160];
    snprintf(head, sizeof head, "%.*s", (int)(star - want), want);
    const char *at = strstr(text, head);
    return at && holds(at + strlen(head), star + 1);
}

static void injected_failures_fall_back(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++) {
        char io_path[IO_PATH_MAX];
        setenv(failures[i].variable, failures[i].code, 1);
        check_fallback(failures[i].call, io_path);
        unsetenv(failures[i].variable);
        if (!holds(io_path, failures[i].error))
            fail_msg("io_path \"%s\" lacks \"%s\"", io_path, failures[i].error);
    }
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

/* The probe opens its file as the tier opens its objects: a tier that does not use O_DIRECT
 * (here forced; on a file system whose O_DIRECT I/O fails) must not pass a probe made
 * with O_DIRECT when cuFile refuses its files without it (5020 before GDS 1.7), or every
 * object it reads or writes through cuFile would fail. */
static void probe_opens_its_file_as_the_objects_are_opened(void **state)
{
    (void)state;
    fake_gpu g;
    fake_gpu_init(&g);
    char dir[4096];
    test_mkdtemp(dir, "gds-probe");
    kvs_file_tier_tuning tuning;
    kvs_file_tier_default_tuning(&tuning);
    tuning.force_buffered = true;
    kvs_file_tier_options fo = {.name = "gds", .root = dir, .capacity_bytes = 1u << 30,
                                .gpu = &g.ops, .cufile_buffer_size = 1u << 20};
    setenv("FAKE_CUFILE_REQUIRE_O_DIRECT", "1", 1);
    kvs_tier *tier = NULL;
    kvs_error err;
    assert_int_equal(kvs_tier_file_open_tuned(&fo, &tuning, &tier, &err), KVS_OK);
    unsetenv("FAKE_CUFILE_REQUIRE_O_DIRECT");
    kvs_tier_stats s;
    tier->methods->stats(tier, &s);
    if (!holds(s.io_path, "posix (no GPUDirect: cuFileHandleRegister */v1/.gds.*: error 5020"))
        fail_msg("io_path \"%s\"", s.io_path);
    assert_null(kvs_tier_file_staging(tier));
    tier->methods->close(tier);
    gds_check_released(&g);

    tuning.force_buffered = false; /* with O_DIRECT: the probe passes */
    setenv("FAKE_CUFILE_REQUIRE_O_DIRECT", "1", 1);
    assert_int_equal(kvs_tier_file_open_tuned(&fo, &tuning, &tier, &err), KVS_OK);
    unsetenv("FAKE_CUFILE_REQUIRE_O_DIRECT");
    assert_true(kvs_tier_file_uses_direct(tier)); /* the test directory takes O_DIRECT */
    assert_non_null(kvs_tier_file_staging(tier));
    tier->methods->close(tier);
    gds_check_released(&g);
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
        cmocka_unit_test(injected_failures_fall_back),
        cmocka_unit_test(compat_mode_is_reported),
        cmocka_unit_test(probe_opens_its_file_as_the_objects_are_opened),
        cmocka_unit_test(gpu_operations_must_be_complete),
    };
    fake_cufile(1); /* loaded before tests point KVSPILL_CUFILE_LIB elsewhere */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
