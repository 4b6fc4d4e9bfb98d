/* The cache's operator API (ARCHITECTURE.md §1, §5): what the CLI and the tools may use of
 * libkvspill beyond include/kvspill.h, and nothing more. `kvspill cache ls|stat|verify|gc`
 * works on a cache directory without opening a tier; the benchmarks open one tier alone
 * and drive it through the tier interface (cache/tier.h, the one other header this one
 * brings), comparing it with raw I/O of the same bytes. The rest of src/cache is private to
 * the library; the build gives the CLI and the tools this header and tier.h only
 * (kvspill_admin). */
#ifndef KVSPILL_CACHE_KVS_ADMIN_H
#define KVSPILL_CACHE_KVS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/tier.h"
#include "kvspill.h"

/* ---- Cache directories ---------------------------------------------------------------- */

/* Whether dir is a file tier root: it holds the v1/ tree (ARCHITECTURE.md §3). The
 * operator's tools use this to refuse a directory that is not a cache instead of reporting
 * an empty one, and to name the caches below it. */
bool kvs_file_is_root(const char *dir);

/* Returns nonzero to stop the search. */
typedef int (*kvs_root_fn)(void *ctx, const char *root);

/* Calls fn for each root strictly below dir, at most max_depth levels down, in directory
 * order; does not descend into a root, nor follow symbolic links. Unreadable directories
 * below dir are skipped. */
kvs_status kvs_file_find_roots(const char *dir, unsigned max_depth, kvs_root_fn fn, void *ctx,
                               kvs_error *err);

/* One entry of a walk of a file tier directory: a published object or a temp file. */
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

/* Calls fn for each entry under <root>/v1 (a missing v1 is an empty tree). Shared by the
 * tier's eviction and `kvspill cache`; entries that vanish during the walk (another process
 * evicting) are skipped, not errors. metadata_ops, when not NULL, gets the number of
 * directory opens and stats added. */
kvs_status kvs_file_scan(const char *root, kvs_scan_fn fn, void *ctx, uint64_t *metadata_ops,
                         kvs_error *err);

/* Parses the header of the object at path (cheap, for listings). KVS_ERR_CORRUPT with the
 * reason when damaged. */
kvs_status kvs_file_read_header(const char *path, kvs_chunk_info *info, kvs_error *err);

/* Reads and verifies the whole object at path: header and payload checksums, and that it
 * holds the namespace and key its path names. */
kvs_status kvs_file_verify_object(const char *path, const kvs_key *ns, const kvs_key *key,
                                  kvs_chunk_info *info, kvs_error *err);

/* One eviction pass over a file tier directory: under the lease, scan, remove orphan temp
 * files older than a timeout, then remove least recently used objects (oldest mtime first;
 * a hit touches mtime) until the directory holds at most target_bytes, and leave the
 * directory's size in its usage record. Run by the tier when it finds itself over capacity
 * and by `kvspill cache gc`. */
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
    uint64_t scan_start_ns; /* realtime when the listing began: the usage record's stamp */
} kvs_evict_report;

kvs_status kvs_file_evict(const char *root, const kvs_evict_params *params,
                          kvs_evict_report *report, kvs_error *err);

/* ---- One tier alone ------------------------------------------------------------------- */

/* The file tier's knobs beyond kvs_file_tier_options (tier.h), for tests and benchmarks. */
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

/* A plain hiredis connection to url (redis://[user:password@]host:port[/db]) made as the
 * redis tier makes its own: connected and every command bounded by timeout_ms, AUTH,
 * SELECT and PING done. For a baseline that sends the same bytes past the tier. */
struct redisContext;
kvs_status kvs_redis_connect_url(const char *url, uint32_t timeout_ms,
                                 struct redisContext **out, kvs_error *err);

/* ---- Chunks as a tier stores them ----------------------------------------------------- */

/* Writes the chunk's header, payload checksum included, as kvs_put_async does before any
 * tier sees it: a tier's put takes sealed chunks only. After sealing, the payload must not
 * change. Idempotent. */
kvs_status kvs_chunk_seal(kvs_chunk *chunk, kvs_error *err);

/* The bytes of a sealed host chunk as every tier stores them (header, then payload);
 * *size gets their number, a multiple of 4096. */
const uint8_t *kvs_chunk_object_bytes(const kvs_chunk *chunk, size_t *size);

#endif
