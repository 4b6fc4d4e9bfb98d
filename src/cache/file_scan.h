/* Walks a file tier directory: every published object and every temp file, with its size
 * and modification time. Shared by the tier's eviction and `kvspill cache`. Entries that
 * vanish during the walk (another process evicting) are skipped, not errors. */
#ifndef KVSPILL_CACHE_FILE_SCAN_H
#define KVSPILL_CACHE_FILE_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "kvspill.h"

typedef struct kvs_scan_entry {
    bool is_temp;          /* a temp file (being written, or orphaned by a dead writer) */
    const char *path;
    kvs_key ns;            /* from the directory name */
    kvs_key key;           /* from the file name (objects only) */
    uint64_t size;         /* bytes */
    int64_t mtime_ns;      /* unix ns; last use for objects (touched on hit) */
    uint32_t mode;         /* permission bits */
} kvs_scan_entry;

/* Returns nonzero to stop the walk early. */
typedef int (*kvs_scan_fn)(void *ctx, const kvs_scan_entry *entry);

/* Calls fn for each entry under <root>/v1 (a missing v1 is an empty tree). metadata_ops,
 * when not NULL, gets the number of directory opens and stats added. */
kvs_status kvs_file_scan(const char *root, kvs_scan_fn fn, void *ctx, uint64_t *metadata_ops,
                         kvs_error *err);

#endif
