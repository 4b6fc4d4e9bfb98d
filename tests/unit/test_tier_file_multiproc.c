/* Several processes write and read one directory at once — the same keys and their own —
 * while eviction runs under a small capacity: no reader ever gets a wrong or partial
 * object, and the directory ends within one eviction slack of its capacity. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/kvs_admin.h"
#include "cache/object.h"

enum { WORKERS = 4, ITERS = 150 };

static char helper[4096];

static int sum_bytes(void *ctx, const kvs_scan_entry *e)
{
    *(uint64_t *)ctx += e->size;
    return 0;
}

static void test_concurrent_writers_readers_and_eviction(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-mp");
    kvs_layout lay = {1, 2, 64, KVS_DTYPE_F16};
    uint64_t obj = kvs_object_header_size(64) + kvs_payload_bytes(&lay, 64);
    uint64_t capacity = 30 * obj; /* workers write ~1200 objects: many eviction passes */
    char cap[32], iters[32];
    snprintf(cap, sizeof cap, "%llu", (unsigned long long)capacity);
    snprintf(iters, sizeof iters, "%d", ITERS);
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        char id[16];
        snprintf(id, sizeof id, "%d", w + 1);
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            execl(helper, helper, "worker", root, id, iters, cap, (char *)NULL);
            _exit(127);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    uint64_t used = 0;
    kvs_error err;
    assert_int_equal(kvs_file_scan(root, sum_bytes, &used, NULL, &err), KVS_OK);
    /* Each process rescans after writing 10% of capacity or reaching it: one slack each. */
    uint64_t slack = WORKERS * (capacity / 10 + 2 * obj);
    printf("capacity %llu, used at the end %llu (slack %llu)\n", (unsigned long long)capacity,
           (unsigned long long)used, (unsigned long long)slack);
    assert_true(used <= capacity + slack);
    test_rmtree(root);
}

int main(void)
{
    test_require_helper(helper, "file_writer");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers_readers_and_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
