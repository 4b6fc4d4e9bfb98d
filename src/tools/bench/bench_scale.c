/* kvspill bench scale --dir DIR: the file tier's cost per operation as the number of objects
 * grows (10^4, 10^5, ... small objects), through the public API only (include/kvspill.h),
 * as an engine uses it. For each count N, in a fresh directory: put N objects (chains of
 * CHAIN chunks of 16 tokens, one small layer: ~12 KB objects), then, as a fresh node, open
 * the cache and look up one chain (open + first lookup), then random lookups and gets of
 * stored chains, then eviction: the cache reopened with its capacity at 90% of what it
 * holds and N/5 more objects put (the evicted objects per second of that). The cost per operation must stay flat
 * (or grow like log N) from one N to the next; the ratio column says by how much it grew
 * against the smallest N. */
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kvspill.h"
#include "tools/bench/bench.h"
#include "tools/bench/bench_util.h"

#define CHAIN 32u          /* chunks per stored prompt */
#define TOKENS 16u         /* tokens per chunk */
#define LOOKUPS 400u       /* distinct random chains looked up per N (at most all) */
#define GETS 100u          /* random chains loaded per N */
#define MAX_COUNTS 8

static const kvs_layout small = {1, 2, 64, KVS_DTYPE_F16};

typedef struct scale_row {
    uint64_t n;
    double put_us, open_first_ms, get_us, evict_put_us, evict_per_s;
    double lookup_us[2], lookup_ops[2]; /* per chain of CHAIN keys: cold, warm */
    uint64_t evicted, used_bytes;
    double rss_mb;
} scale_row;

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (double)kb / 1024.0;
}

/* A failure found by the benchmark itself (not reported by the library): -1. */
static int fail(kvs_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = KVS_ERR_INVALID;
    return -1;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path) != 0 ? -1 : 0;
}

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (type == FTW_F)
        tree_bytes += (uint64_t)sb->st_size;
    return 0;
}

/* Bytes of the files under dir (outside any timing: a full walk). */
static uint64_t dir_bytes(const char *dir)
{
    tree_bytes = 0;
    return nftw(dir, add_size, 16, FTW_PHYS) == 0 ? tree_bytes : 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The tokens of chunk i of chain c: unique over all chains. */
static void chain_tokens(uint64_t c, uint32_t i, int32_t *tok)
{
    for (uint32_t j = 0; j < TOKENS; j++)
        tok[j] = (int32_t)((c * CHAIN * TOKENS + i * TOKENS + j) % 2000000000u);
}

static void chain_keys(const kvs_key *ns, uint64_t c, kvs_key *keys)
{
    int32_t tok[TOKENS];
    kvs_key parent = *ns;
    for (uint32_t i = 0; i < CHAIN; i++) {
        chain_tokens(c, i, tok);
        kvs_key_next(&parent, tok, TOKENS, &keys[i]);
        parent = keys[i];
    }
}

static int open_cache(const char *dir, uint64_t capacity, kvs_cache **out, kvs_error *err)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = false;
    snprintf(cfg.local_disk, sizeof cfg.local_disk, "%s", dir);
    cfg.max_local_disk_size = capacity;
    return kvs_cache_open(&cfg, out, err) == KVS_OK ? 0 : -1;
}

static const kvs_tier_stats *disk_stats(kvs_cache *cache, kvs_stats *st)
{
    kvs_cache_stats(cache, st);
    for (uint32_t i = 0; i < st->n_tiers; i++)
        if (!strcmp(st->tiers[i].name, "local_disk"))
            return &st->tiers[i];
    return &st->tiers[0];
}

/* Puts chains [from, to) one batch per chain; -1 when a chunk did not reach the tier. */
static int put_chains(kvs_cache *cache, const kvs_key *ns, uint64_t from, uint64_t to,
                      kvs_error *err)
{
    int32_t tok[TOKENS];
    uint64_t x = 0x9E3779B97F4A7C15ull ^ from;
    for (uint64_t c = from; c < to; c++) {
        kvs_chunk *chunks[CHAIN];
        kvs_key parent = *ns;
        for (uint32_t i = 0; i < CHAIN; i++) {
            chain_tokens(c, i, tok);
            kvs_key key;
            kvs_key_next(&parent, tok, TOKENS, &key);
            if (kvs_chunk_new(ns, &parent, &key, i, tok, TOKENS, &small, &chunks[i], err) !=
                KVS_OK) {
                for (uint32_t k = 0; k < i; k++)
                    kvs_chunk_release(chunks[k]);
                return -1;
            }
            for (uint32_t kv = 0; kv < 2; kv++) {
                uint64_t *p = kvs_chunk_segment_mut(chunks[i], 0, (int)kv);
                for (size_t k = 0; k < kvs_segment_bytes(&small, TOKENS) / 8; k++)
                    p[k] = rng_next(&x);
            }
            parent = key;
        }
        kvs_batch *b;
        if (kvs_put_async(cache, chunks, CHAIN, &b, err) != KVS_OK)
            return -1;
        kvs_batch_wait(b, -1);
        size_t done = kvs_batch_loaded(b);
        kvs_status first = kvs_batch_item_status(b, 0);
        kvs_batch_free(b);
        if (done != CHAIN) {
            kvs_stats st;
            return fail(err, "chain %" PRIu64 ": %zu of %u chunks written (%s%s%s)", c, done,
                        CHAIN, kvs_status_str(first), disk_stats(cache, &st)->last_error[0] ? ": " : "",
                        st.tiers[0].last_error);
        }
    }
    return 0;
}

static int measure(const char *dir, uint64_t n, scale_row *row, kvs_error *err)
{
    uint64_t chains = (n + CHAIN - 1) / CHAIN;
    row->n = chains * CHAIN;
    kvs_namespace_desc desc = {.layout = small, .tp_size = 1, .cache_salt = "bench scale"};
    kvs_key ns, keys[CHAIN];
    if (kvs_namespace_id(&desc, &ns, err) != KVS_OK)
        return -1;
    kvs_cache *cache;
    const uint64_t unbounded = UINT64_C(1) << 50;
    if (open_cache(dir, unbounded, &cache, err))
        return -1;
    double t0 = bench_now_s();
    int rc = put_chains(cache, &ns, 0, chains, err);
    row->put_us = (bench_now_s() - t0) * 1e6 / (double)row->n;
    kvs_cache_close(cache);
    if (rc)
        return -1;

    /* A fresh node: open, then the first lookup. */
    uint64_t x = 0x2545F4914F6CDD1Dull ^ n;
    chain_keys(&ns, rng_next(&x) % chains, keys);
    t0 = bench_now_s();
    size_t hit = 0;
    if (open_cache(dir, unbounded, &cache, err))
        return -1;
    if (kvs_lookup(cache, &ns, keys, CHAIN, &hit, err) != KVS_OK || hit != CHAIN) {
        kvs_cache_close(cache);
        return err->msg[0] ? -1 : fail(err, "first lookup: %zu of %u hit", hit, CHAIN);
    }
    row->open_first_ms = (bench_now_s() - t0) * 1e3;

    /* Lookups of distinct random chains this process has not seen (cold: the presence
     * index knows nothing of them), then of the same chains again (warm). */
    uint32_t n_look = chains < LOOKUPS ? (uint32_t)chains : LOOKUPS;
    uint64_t first = rng_next(&x) % chains, step = chains > 1 ? 1 + rng_next(&x) % (chains - 1) : 1;
    while (gcd(step, chains) != 1)
        step++;
    kvs_stats st;
    for (int warm = 0; warm < 2 && rc == 0; warm++) {
        uint64_t ops0 = disk_stats(cache, &st)->metadata_ops;
        double lookup_s = 0;
        for (uint32_t l = 0; l < n_look && rc == 0; l++) {
            chain_keys(&ns, (first + l * step) % chains, keys);
            t0 = bench_now_s();
            rc = kvs_lookup(cache, &ns, keys, CHAIN, &hit, err) != KVS_OK ? -1 : 0;
            lookup_s += bench_now_s() - t0;
            if (!rc && hit != CHAIN)
                rc = fail(err, "lookup %u: %zu of %u hit", l, hit, CHAIN);
        }
        row->lookup_us[warm] = lookup_s * 1e6 / n_look;
        row->lookup_ops[warm] =
            (double)(disk_stats(cache, &st)->metadata_ops - ops0) / n_look;
    }

    double get_s = 0;
    for (uint32_t g = 0; g < GETS && rc == 0; g++) {
        uint64_t c = rng_next(&x) % chains;
        chain_keys(&ns, c, keys);
        kvs_chunk_request reqs[CHAIN];
        for (uint32_t i = 0; i < CHAIN; i++)
            reqs[i] = (kvs_chunk_request){.key = keys[i], .chunk_index = i};
        kvs_batch *b;
        t0 = bench_now_s();
        if (kvs_get_async(cache, &ns, reqs, CHAIN, &b, err) != KVS_OK) {
            rc = -1;
            break;
        }
        kvs_batch_wait(b, -1);
        get_s += bench_now_s() - t0;
        size_t loaded = kvs_batch_loaded(b);
        kvs_batch_free(b);
        if (loaded != CHAIN)
            rc = fail(err, "get of chain %" PRIu64 ": %zu of %u loaded", c, loaded,
                              CHAIN);
    }
    row->get_us = get_s * 1e6 / ((double)GETS * CHAIN);
    row->rss_mb = rss_mb();
    kvs_cache_close(cache);
    if (rc)
        return -1;
    row->used_bytes = dir_bytes(dir);
    if (row->used_bytes == 0)
        return fail(err, "cannot sum the sizes of the files under %s", dir);

    /* Eviction: capacity 90% of what the directory holds, then N/5 more objects. A fresh
     * process learns the directory's size at its first scan, after writing 10% of the
     * capacity; that scan evicts down to the low watermark (90% of capacity), later ones
     * every further 10%. */
    if (open_cache(dir, row->used_bytes / 10 * 9, &cache, err))
        return -1;
    uint64_t more = chains / 5 ? chains / 5 : 1;
    uint64_t ev0 = disk_stats(cache, &st)->evictions;
    t0 = bench_now_s();
    rc = put_chains(cache, &ns, chains, chains + more, err);
    double evict_s = bench_now_s() - t0;
    row->evicted = disk_stats(cache, &st)->evictions - ev0;
    row->evict_put_us = evict_s * 1e6 / ((double)more * CHAIN);
    row->evict_per_s = (double)row->evicted / evict_s;
    kvs_cache_close(cache);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: kvspill bench scale --dir DIR [--objects N,N,...] [--json]\n"
                    "  (default --objects 10000,100000; each count in a fresh DIR/objects-N,\n"
                    "  removed afterwards; ~12 KB per object on disk)\n");
    return 2;
}

int bench_scale(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t counts[MAX_COUNTS] = {10000, 100000};
    size_t n_counts = 2;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--objects") && i + 1 < argc) {
            const char *p = argv[++i];
            n_counts = 0;
            while (*p) {
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p || v < CHAIN || v > 100000000ull || n_counts == MAX_COUNTS ||
                    (*end && *end != ',')) {
                    fprintf(stderr, "kvspill bench scale: bad --objects '%s' (counts of "
                                    "%u to 10^8, comma separated, at most %d)\n",
                            argv[i], CHAIN, MAX_COUNTS);
                    return 2;
                }
                counts[n_counts++] = v;
                p = *end ? end + 1 : end;
            }
        } else {
            return usage();
        }
    }
    if (!dir || n_counts == 0)
        return usage();
    scale_row rows[MAX_COUNTS];
    for (size_t k = 0; k < n_counts; k++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/objects-%" PRIu64, dir, counts[k]);
        if (mkdir(sub, 0700) != 0) {
            fprintf(stderr, "kvspill bench scale: cannot create %s (it must not exist)\n", sub);
            return 1;
        }
        kvs_error err = {0};
        int rc = measure(sub, counts[k], &rows[k], &err);
        if (nftw(sub, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && rc == 0) {
            fprintf(stderr, "kvspill bench scale: cannot remove %s\n", sub);
            rc = -1;
        }
        if (rc) {
            if (err.msg[0])
                fprintf(stderr, "kvspill bench scale: %" PRIu64 " objects in %s: %s\n",
                        counts[k], sub, err.msg);
            return 1;
        }
        const scale_row *r = &rows[k], *r0 = &rows[0];
        if (json) {
            printf("{\"objects\":%" PRIu64 ",\"put_us\":%.2f,\"open_first_lookup_ms\":%.3f,"
                   "\"lookup_cold_us\":%.2f,\"lookup_cold_metadata_ops\":%.2f,"
                   "\"lookup_warm_us\":%.2f,\"lookup_warm_metadata_ops\":%.2f,"
                   "\"get_us_per_chunk\":%.2f,\"evicting_put_us\":%.2f,"
                   "\"evictions_per_s\":%.0f,\"evicted\":%" PRIu64 ",\"used_bytes\":%" PRIu64
                   ",\"rss_mb\":%.1f}\n",
                   r->n, r->put_us, r->open_first_ms, r->lookup_us[0], r->lookup_ops[0],
                   r->lookup_us[1], r->lookup_ops[1], r->get_us, r->evict_put_us,
                   r->evict_per_s, r->evicted, r->used_bytes, r->rss_mb);
        } else {
            if (k == 0)
                printf("%9s %8s %9s %17s %17s %7s %9s %9s %7s  (per op: put and get per "
                       "object, lookup per %u-key chain; xN = cost / cost at %" PRIu64 ")\n",
                       "objects", "put us", "open+1st", "cold lookup (md)", "warm lookup (md)",
                       "get us", "evict us", "evicted/s", "RSS MB", CHAIN, r0->n);
            printf("%9" PRIu64 " %8.1f %7.2fms %9.1fus (%4.1f) %9.1fus (%4.1f) %7.1f %9.1f %9.0f "
                   "%7.1f  put x%.2f cold-lookup x%.2f get x%.2f evict x%.2f\n",
                   r->n, r->put_us, r->open_first_ms, r->lookup_us[0], r->lookup_ops[0],
                   r->lookup_us[1], r->lookup_ops[1], r->get_us, r->evict_put_us,
                   r->evict_per_s, r->rss_mb, r->put_us / r0->put_us,
                   r->lookup_us[0] / r0->lookup_us[0], r->get_us / r0->get_us,
                   r->evict_put_us / r0->evict_put_us);
        }
        fflush(stdout);
    }
    return 0;
}
