/* One eviction pass over a file tier directory: under the lease, scan, remove orphan temp
 * files older than a timeout, then remove least recently used objects (oldest mtime first;
 * a hit touches mtime) until the directory holds at most target_bytes, and leave the
 * directory's size in its usage record (file_usage.h). Used by the tier when it finds
 * itself over capacity and by `kvspill cache gc`. */
#ifndef KVSPILL_CACHE_FILE_EVICT_H
#define KVSPILL_CACHE_FILE_EVICT_H

#include <stdbool.h>
#include <stdint.h>

#include "kvspill.h"

typedef struct kvs_evict_params {
    uint64_t trigger_bytes;  /* evict only when the directory holds more than this */
    uint64_t target_bytes;   /* ... and then down to this many bytes (objects + temp files) */
    uint64_t orphan_age_ns;  /* temp files older than this are orphans of dead writers */
    uint64_t lease_ttl_ns;
    const char *owner;       /* written into the lease */
} kvs_evict_params;

typedef struct kvs_evict_report {
    bool lease_busy;         /* another process holds the lease: nothing was done */
    bool lease_lost;         /* the lease was taken over midway: the pass stopped */
    uint64_t used_before, used_after;
    uint64_t objects_before, objects_after;
    uint64_t evicted_objects, evicted_bytes;
    uint64_t orphans_removed;
    uint64_t metadata_ops;
} kvs_evict_report;

kvs_status kvs_file_evict(const char *root, const kvs_evict_params *params,
                          kvs_evict_report *report, kvs_error *err);

#endif
