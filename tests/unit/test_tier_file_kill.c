/* A writer killed with SIGKILL at random points leaves no readable partial object: every
 * key is either absent or bit-exact; its temp files are removed by a later eviction pass. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/kvs_admin.h"

static char helper[4096];

static int run_helper(char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(helper, argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int count_temps(void *ctx, const kvs_scan_entry *e)
{
    if (e->is_temp)
        (*(int *)ctx)++;
    return 0;
}

static void test_killed_writer_leaves_no_partial_object(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-kill");
    srand((unsigned)time(NULL));
    int temps_seen = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* 16 layers: ~1 MiB objects, so kills often land mid-write. */
            execl(helper, helper, "loop", root, "16", (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(20000 + rand() % 150000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        int temps = 0;
        kvs_error err;
        assert_int_equal(kvs_file_scan(root, count_temps, &temps, NULL, &err), KVS_OK);
        temps_seen += temps;
        char *check[] = {helper, "check", root, "0", "50", "16", NULL};
        assert_int_equal(run_helper(check), 0);
    }
    printf("temp files left by killed writers over all rounds: %d\n", temps_seen);
    /* A later pass removes the orphans (age 0 here: the writer is certainly dead). */
    kvs_evict_params p = {.trigger_bytes = UINT64_MAX, .target_bytes = UINT64_MAX,
                          .orphan_age_ns = 0, .lease_ttl_ns = 5000000000ull, .owner = "test"};
    kvs_evict_report r;
    kvs_error err;
    assert_int_equal(kvs_file_evict(root, &p, &r, &err), KVS_OK);
    int temps = 0;
    assert_int_equal(kvs_file_scan(root, count_temps, &temps, NULL, &err), KVS_OK);
    assert_int_equal(temps, 0);
    assert_true(r.objects_after > 0);
    test_rmtree(root);
}

int main(void)
{
    test_require_helper(helper, "file_writer");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_writer_leaves_no_partial_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
