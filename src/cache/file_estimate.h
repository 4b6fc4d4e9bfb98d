/* The size of a shared cache directory as one process can know it without listing it: the
 * last scan's figure (its own, or another process's usage record) plus what this process
 * has written since that scan began, plus what it is writing now.
 *
 * Writes are logged with the realtime clock, as usage records are stamped, so that a record
 * another process leaves can be taken without forgetting this process's writes that its
 * scan did not see: only the ones logged before that scan began are dropped. (Dropping all
 * of them, as before, let three servers sharing a directory overshoot its capacity.) Each
 * write is also stamped with the monotonic clock, which this process's own scans go by: a
 * wall clock stepped back would otherwise keep writes stamped "in the future" counted
 * through every scan, the directory full by the estimate, and every put rescanning it.
 * The log holds the writes since the last scan; when it fills, neighbours merge under the
 * later stamps, which counts a write as unseen for longer: the estimate only errs high. */
#ifndef KVSPILL_CACHE_FILE_ESTIMATE_H
#define KVSPILL_CACHE_FILE_ESTIMATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define KVS_ESTIMATE_LOG 1024

typedef struct kvs_dir_estimate {
    pthread_mutex_t lock;
    uint64_t capacity;
    uint64_t used_at_scan, scan_at_ns; /* realtime when that scan began; 0: never scanned */
    uint64_t in_flight;                /* claimed for writes not yet published or dropped */
    uint64_t written;                  /* published since scan_at_ns: the log's sum */
    struct {
        uint64_t mono_ns, real_ns, bytes;
    } log[KVS_ESTIMATE_LOG];
    unsigned head, n; /* the log is a ring: n entries from head, oldest first */
} kvs_dir_estimate;

void kvs_estimate_init(kvs_dir_estimate *e, uint64_t capacity);
void kvs_estimate_destroy(kvs_dir_estimate *e);

uint64_t kvs_estimate_bytes(kvs_dir_estimate *e);
/* Bytes published since the last scan (what decides when to scan again). */
uint64_t kvs_estimate_unscanned(kvs_dir_estimate *e);

/* Claims `bytes` for a write about to start when they fit within the capacity, so that
 * concurrent writers cannot all take the same room; false when they do not fit. */
bool kvs_estimate_claim(kvs_dir_estimate *e, uint64_t bytes);
/* A claimed write that did not happen. */
void kvs_estimate_release(kvs_dir_estimate *e, uint64_t bytes);
/* A claimed write that is now in the directory, at these monotonic and realtime clocks. */
void kvs_estimate_publish(kvs_dir_estimate *e, uint64_t bytes, uint64_t mono_ns,
                          uint64_t real_ns);

/* This process's scan, begun at these clocks, found used_bytes. The writes logged before
 * it began (by the monotonic clock) are in that figure and leave the log. */
void kvs_estimate_own_scan(kvs_dir_estimate *e, uint64_t used_bytes, uint64_t mono_ns,
                           uint64_t real_ns);

/* Another process's usage record: its scan began at realtime real_ns and found used_bytes.
 * Taken when newer than the current figure; then the writes logged before real_ns leave
 * the log (from the front only: behind a stepped clock's stamp they stay, until this
 * process's next scan). Returns whether it was taken. */
bool kvs_estimate_take_record(kvs_dir_estimate *e, uint64_t used_bytes, uint64_t real_ns);

#endif
