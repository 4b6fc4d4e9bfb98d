/* The file tier's knobs beyond kvs_file_tier_options, for tests, benchmarks and tools. */
#ifndef KVSPILL_CACHE_TIER_FILE_H
#define KVSPILL_CACHE_TIER_FILE_H

#include "cache/file_evict.h"
#include "cache/gds_staging.h"
#include "cache/tier.h"

typedef struct kvs_file_tier_tuning {
    uint64_t orphan_age_ns;     /* temp files older than this are removed (default 10 min) */
    uint64_t lease_ttl_ns;      /* eviction lease lifetime (default 30 s) */
    uint64_t touch_interval_ns; /* a hit touches mtime only when older than this (60 s) */
    uint64_t present_ttl_ns;    /* presence index: known-present entries (60 s) */
    uint64_t absent_ttl_ns;     /* presence index: negative entries (2 s) */
    uint32_t index_slots;       /* presence index size (65536) */
    uint32_t low_watermark_pct; /* eviction goes down to this % of capacity (90) */
    uint32_t scan_every_pct;    /* a process rescans usage after writing this % of capacity
                                   (10): bounds the overshoot of several writers */
    uint64_t lease_wait_ns;     /* a put that finds the directory full while another
                                   process evicts waits this long for that pass's usage
                                   record before refusing (200 ms) */
    uint32_t streams;           /* threads a put or get batch is split over, so that file
                                   system metadata calls overlap (1 = the caller only, the
                                   default: more did not pay on a loaded 2-core VM, see
                                   bench/RESULTS.md) */
    bool force_buffered;        /* never use O_DIRECT */
    bool no_uring;              /* never use io_uring */
} kvs_file_tier_tuning;

void kvs_file_tier_default_tuning(kvs_file_tier_tuning *tuning);
kvs_status kvs_tier_file_open_tuned(const kvs_file_tier_options *opts,
                                    const kvs_file_tier_tuning *tuning, kvs_tier **out,
                                    kvs_error *err);

/* "io_uring+O_DIRECT", "io_uring+buffered", "pread+O_DIRECT" or "pread+buffered" (also the
 * tier's kvs_tier_stats.io_path). */
const char *kvs_tier_file_io_mode(const kvs_tier *tier);
bool kvs_tier_file_uses_direct(const kvs_tier *tier);
/* The GPU staging buffer while the tier reads and writes with GPUDirect Storage, else NULL
 * (no GPU operations given, or the gds path fell back to POSIX: see io_path). */
kvs_gds_staging *kvs_tier_file_staging(const kvs_tier *tier);
/* Runs an eviction pass now (scan, orphans, LRU down to the low watermark if over). */
kvs_status kvs_tier_file_evict_now(kvs_tier *tier, kvs_evict_report *report, kvs_error *err);

#endif
