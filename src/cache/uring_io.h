/* Many whole-file transfers in flight: a stream of n jobs, at most depth at once, each one
 * buffer read from or written to one open file from offset 0. With io_uring the transfers
 * of a batch overlap in the kernel; without it (io_uring refused: old kernel, seccomp)
 * they run one after another with pread/pwrite. Short transfers are continued until the
 * job is complete, an error, or end of file. */
#ifndef KVSPILL_CACHE_URING_IO_H
#define KVSPILL_CACHE_URING_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvs_io_job {
    int fd;
    bool write;
    uint8_t *buf;
    size_t len;    /* bytes to ask for (for O_DIRECT reads, the size rounded up to 4096) */
    size_t want;   /* bytes that make the job complete (≤ len) */
    size_t done;   /* bytes transferred */
    int error;     /* 0, or the errno that stopped the job */
} kvs_io_job;

/* Prepares job i (opens its file, fills fd/buf/len/want). Returns false when job i needs no
 * transfer (it already failed, or there is nothing to do); finish is not called then. */
typedef bool (*kvs_io_start_fn)(void *ctx, size_t i, kvs_io_job *job);
/* Called once per started job when its transfer ended (done == want, or error, or EOF). */
typedef void (*kvs_io_finish_fn)(void *ctx, size_t i, kvs_io_job *job);

/* Runs the jobs. use_uring false (or io_uring unavailable now) runs them synchronously. */
void kvs_io_run(bool use_uring, unsigned depth, size_t n, kvs_io_start_fn start,
                kvs_io_finish_fn finish, void *ctx);

/* Whether io_uring works in this process (probed once). */
bool kvs_io_uring_available(void);

#endif
