/* The size of a shared cache directory as one process can know it without listing it: the
 * last scan's figure (its own, or another process's usage record) plus what this process
 * has written since that scan began, plus what it is writing now.
 *
 * Writes are logged with the realtime clock, as usage records are stamped, so that a record
 * another process leaves can be taken without forgetting this process's writes that its
 * scan did not see: only the ones logged before that scan began are dropped. (Dropping all
 * of them, as before, let three servers sharing a directory overshoot its capacity.) The
 * log holds the writes since the last scan; when it fills, neighbours merge under the later
 * time, which counts a write as unseen for longer: the estimate only errs high. */
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
        uint64_t at_ns, bytes;
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
/* A claimed write that is now in the directory, at realtime now_ns. */
void kvs_estimate_publish(kvs_dir_estimate *e, uint64_t bytes, uint64_t now_ns);

/* A scan that began at realtime scan_ns found used_bytes. Taken when newer than the
 * current figure, or always when `own` (this process's scan: another node's clock may be
 * ahead of ours). Writes logged before scan_ns are in it and leave the log; later ones
 * stay counted. Returns whether it was taken. */
bool kvs_estimate_rebase(kvs_dir_estimate *e, uint64_t used_bytes, uint64_t scan_ns, bool own);

#endif
