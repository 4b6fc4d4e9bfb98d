/* Batches split over streams: every job is started once, every started job finished once
 * with its whole transfer, jobs that decline are skipped, and the bytes land in the right
 * files — with io_uring and with the synchronous fallback, for 1 to 5 streams. */
#include "testutil.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/io_streams.h"

#define JOBS 23
#define LEN 65536

typedef struct batch {
    char dir[4096];
    bool write;
    uint8_t *bufs[JOBS];
    atomic_int started[JOBS], finished[JOBS];
    atomic_int wrong; /* finish with an error, a short transfer or another job's fd */
    int fds[JOBS];
} batch;

static bool start(void *ctx, size_t i, kvs_io_job *job)
{
    batch *b = ctx;
    atomic_fetch_add(&b->started[i], 1);
    if (i % 7 == 3)
        return false; /* declines: never finished */
    char path[4200];
    snprintf(path, sizeof path, "%s/job%zu", b->dir, i);
    int fd = open(path, b->write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
    if (fd < 0)
        return false;
    b->fds[i] = fd;
    *job = (kvs_io_job){.fd = fd, .write = b->write, .buf = b->bufs[i], .len = LEN,
                        .want = LEN};
    return true;
}

static void finish(void *ctx, size_t i, kvs_io_job *job)
{
    batch *b = ctx;
    atomic_fetch_add(&b->finished[i], 1);
    if (job->error || job->done != LEN || job->fd != b->fds[i])
        atomic_fetch_add(&b->wrong, 1);
    close(job->fd);
}

static void run(batch *b, bool use_uring, unsigned streams, bool write)
{
    b->write = write;
    for (int i = 0; i < JOBS; i++) {
        atomic_init(&b->started[i], 0);
        atomic_init(&b->finished[i], 0);
        b->fds[i] = -1;
    }
    atomic_init(&b->wrong, 0);
    kvs_io_run_streams(use_uring, 4, streams, JOBS, start, finish, b);
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(atomic_load(&b->started[i]), 1);
        assert_int_equal(atomic_load(&b->finished[i]), i % 7 == 3 ? 0 : 1);
    }
    assert_int_equal(atomic_load(&b->wrong), 0);
}

static void round_trip(bool use_uring)
{
    batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    test_mkdtemp(b->dir, "io_streams");
    for (int i = 0; i < JOBS; i++)
        assert_non_null(b->bufs[i] = malloc(LEN));
    for (unsigned streams = 1; streams <= 5; streams++) {
        for (int i = 0; i < JOBS; i++)
            memset(b->bufs[i], (int)(i * 11 + streams), LEN);
        run(b, use_uring, streams, true);
        for (int i = 0; i < JOBS; i++)
            memset(b->bufs[i], 0, LEN);
        run(b, use_uring, streams, false);
        for (int i = 0; i < JOBS; i++) {
            if (i % 7 == 3)
                continue;
            assert_int_equal(b->bufs[i][0], (uint8_t)(i * 11 + streams));
            assert_int_equal(b->bufs[i][LEN - 1], (uint8_t)(i * 11 + streams));
        }
    }
    for (int i = 0; i < JOBS; i++)
        free(b->bufs[i]);
    test_rmtree(b->dir);
    free(b);
}

static void test_uring(void **state)
{
    round_trip(true);
}

static void test_sync(void **state)
{
    round_trip(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uring),
        cmocka_unit_test(test_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
