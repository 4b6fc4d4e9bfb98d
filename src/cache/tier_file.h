/* What the library and its tests see of the file tier beyond the operator API (kvs_admin.h:
 * its tuning, its I/O mode): the GPU staging buffer of the gds path, and an eviction pass on
 * demand. */
#ifndef KVSPILL_CACHE_TIER_FILE_H
#define KVSPILL_CACHE_TIER_FILE_H

#include "cache/gds_staging.h"
#include "cache/kvs_admin.h"
#include "cache/tier.h"

/* The GPU staging buffer while the tier reads and writes with GPUDirect Storage, else NULL
 * (no GPU operations given, or the gds path fell back to POSIX: see io_path). */
kvs_gds_staging *kvs_tier_file_staging(const kvs_tier *tier);
/* Runs an eviction pass now (scan, orphans, LRU down to the low watermark if over). */
kvs_status kvs_tier_file_evict_now(kvs_tier *tier, kvs_evict_report *report, kvs_error *err);

#endif
