/* Thread pool: every task of every job runs exactly once on a valid runner index, jobs
 * return only after their last task finished (also when a task stalls), with more
 * threads than cores and with jobs back to back (workers arriving a job late). */
#include "testutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/threadpool.h"

#define MAX_TASKS 97

typedef struct count_job {
    int n_threads;
    atomic_int runs[MAX_TASKS];
    atomic_int bad_thread;
    int slow_task; /* sleeps a few ms: the job must still wait for it */
    atomic_int slow_done;
} count_job;

static void count_task(void *p, int task, int thread)
{
    count_job *j = p;
    if (thread < 0 || thread >= j->n_threads)
        atomic_store(&j->bad_thread, 1);
    if (task == j->slow_task) {
        struct timespec ts = {0, 3 * 1000 * 1000};
        nanosleep(&ts, NULL);
        atomic_store(&j->slow_done, 1);
    }
    atomic_fetch_add(&j->runs[task], 1);
}

static void run_jobs(int n_threads, int n_jobs, int slow_every)
{
    threadpool *tp;
    model_error err;
    assert_int_equal(tp_create(n_threads, &tp, &err), 0);
    assert_int_equal(tp_threads(tp), n_threads);
    count_job *j = malloc(sizeof *j);
    for (int jb = 0; jb < n_jobs; jb++) {
        int n_tasks = 1 + (jb * 37) % MAX_TASKS;
        memset(j, 0, sizeof *j);
        j->n_threads = n_threads;
        j->slow_task = -1;
        if (slow_every && jb % slow_every == 0)
            j->slow_task = (jb / slow_every) % n_tasks;
        tp_run(tp, n_tasks, count_task, j);
        /* checked right after the return: a task still running would show here */
        for (int t = 0; t < MAX_TASKS; t++)
            if (atomic_load(&j->runs[t]) != (t < n_tasks ? 1 : 0))
                fail_msg("%d threads, job %d: task %d ran %d times", n_threads, jb, t,
                         atomic_load(&j->runs[t]));
        assert_int_equal(atomic_load(&j->bad_thread), 0);
        if (j->slow_task >= 0)
            assert_int_equal(atomic_load(&j->slow_done), 1);
    }
    free(j);
    tp_destroy(tp);
}

static void test_every_task_once(void **state)
{
    (void)state;
    const int threads[] = {1, 2, 3, 8};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++)
        run_jobs(threads[i], 3000, 0);
}

static void test_stalled_task(void **state)
{
    (void)state;
    run_jobs(2, 200, 7);
    run_jobs(8, 200, 5);
}

static void test_bad_thread_count(void **state)
{
    (void)state;
    threadpool *tp;
    model_error err;
    assert_int_equal(tp_create(0, &tp, &err), -1);
    assert_null(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_task_once),
        cmocka_unit_test(test_stalled_task),
        cmocka_unit_test(test_bad_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
