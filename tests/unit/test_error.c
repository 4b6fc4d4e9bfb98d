/* Error messages name the thing and the cause, and errno maps to the right status. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "cache/error.h"

static void test_fail_errno_names_path_and_cause(void **state)
{
    (void)state;
    kvs_error err;
    assert_int_equal(kvs_fail_errno(&err, EACCES, "open %s", "/mnt/kv/v1/x.kvc"), KVS_ERR_IO);
    assert_string_equal(err.msg, "open /mnt/kv/v1/x.kvc: Permission denied");
    assert_int_equal(err.code, KVS_ERR_IO);
    assert_int_equal(kvs_fail_errno(&err, ENOSPC, "write %s", "f"), KVS_ERR_FULL);
    assert_int_equal(kvs_fail_errno(&err, ENOENT, "stat %s", "f"), KVS_ERR_NOT_FOUND);
    assert_int_equal(kvs_fail_errno(NULL, ENOMEM, "x"), KVS_ERR_NOMEM);
}

static void test_status_names_are_distinct(void **state)
{
    (void)state;
    for (int a = KVS_OK; a <= KVS_ERR_REMOTE; a++)
        for (int b = a + 1; b <= KVS_ERR_REMOTE; b++)
            assert_string_not_equal(kvs_status_str((kvs_status)a), kvs_status_str((kvs_status)b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_errno_names_path_and_cause),
        cmocka_unit_test(test_status_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
