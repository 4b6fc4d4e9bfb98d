/* The size of a shared cache directory as the last eviction pass found it, for the
 * processes that did not scan it. Each process counts only its own writes since its own
 * scan; while another process holds the eviction lease it cannot rescan and, its count
 * stale, refuses writes the directory has room for. So every completed pass leaves
 * <root>/v1/.usage ("<bytes> <objects> <unix ns>\n", replaced whole by rename), and a
 * process that finds the lease busy adopts a record newer than its own scan. */
#ifndef KVSPILL_CACHE_FILE_USAGE_H
#define KVSPILL_CACHE_FILE_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvspill.h"

typedef struct kvs_usage_record {
    uint64_t used_bytes, objects;
    uint64_t at_ns; /* realtime when the pass began listing (records are compared across
                       nodes; writes after it may be missing from used_bytes) */
} kvs_usage_record;

kvs_status kvs_file_usage_write(const char *root, const kvs_usage_record *rec, kvs_error *err);

/* false when there is no record or it does not parse (a reader then keeps its own count). */
bool kvs_file_usage_read(const char *root, kvs_usage_record *out);

#endif
