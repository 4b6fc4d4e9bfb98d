/* libcufile stays loaded: the gds tier loads it with dlopen when a cache opens and drops its
 * reference when the last cache closes, but the library must never be unloaded (cuFile
 * crashes when it is; rapidsai/cudf#9872). This binary never loads the fake libcufile
 * itself, so nothing else keeps it loaded. */
#include "testutil.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "gds_fixture.h"

static void loads(const char *want)
{
    const char *n = getenv("FAKE_CUFILE_LOADS");
    assert_non_null(n);
    assert_string_equal(n, want);
}

static void libcufile_is_loaded_once(void **state)
{
    gds_env *e = *state;
    for (int round = 0; round < 3; round++) {
        kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, 1u << 20);
        assert_string_equal(gds_tier_stats(cache, "gds").io_path, "cufile (GPUDirect)");
        kvs_cache_close(cache);
        loads("1");
    }
    void *still = dlopen(getenv("KVSPILL_CUFILE_LIB"), RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(still); /* loaded, with no cache open */
    dlclose(still);
    gds_check_released(&e->g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        GDS_TEST(libcufile_is_loaded_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
