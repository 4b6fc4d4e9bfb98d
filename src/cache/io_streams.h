/* A batch of whole-file jobs split into several kvs_io_run streams, each on its own
 * thread. One stream does its file system metadata (the O_EXCL create and the rename of a
 * put, the open of a get) and its per-object CPU work (the payload checksum of a get) one
 * job at a time; those calls block in the file system for 0.1-20 ms on ext4 while the
 * device idles. Several streams overlap them. start and finish must be thread-safe. */
#ifndef KVSPILL_CACHE_IO_STREAMS_H
#define KVSPILL_CACHE_IO_STREAMS_H

#include "cache/uring_io.h"

/* Job i runs on stream i % streams; depth (the transfers in flight in all) is shared out,
 * at least one per stream. streams 0 or 1, or one job, runs on the caller's thread. */
void kvs_io_run_streams(bool use_uring, unsigned depth, unsigned streams, size_t n,
                        kvs_io_start_fn start, kvs_io_finish_fn finish, void *ctx);

#endif
