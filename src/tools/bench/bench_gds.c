/* kvspill bench gds --dir DIR: the gds tier's write and read bandwidth between files and GPU
 * memory (docs/gds.md), against the path without GPUDirect Storage measured in the same
 * run on the same objects: pread into pinned host memory, then cudaMemcpy to the GPU (and
 * cudaMemcpy to pinned memory, then pwrite, for writes), O_DIRECT, one object at a time.
 *
 * The tier is reached through the public API (kvs_cache with gds_path and the engine's GPU
 * operations), so the run also shows which path the tier chose: "cufile (GPUDirect)",
 * "cufile (compat mode)", or "posix (no GPUDirect: ...)". On the POSIX path the tier moves
 * host chunks and the benchmark adds the copy to or from the GPU that an engine would make.
 * Each round uses its own namespace (a put of a present key would not write) and removes
 * its objects afterwards; before each read pass the objects' pages are dropped from the page
 * cache, as O_DIRECT reads would not see them. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/gpu_ops.h"
#include "kvspill.h"
#include "tools/bench/bench.h"
#include "tools/bench/bench_util.h"

/* TinyLlama's KV layout, 256-token chunks (5.8 MB payloads), as `bench io` uses. */
static const kvs_layout tinyllama = {22, 4, 64, KVS_DTYPE_F16};
#define TOKENS 256u
#define ROUNDS 3
#define STAGING_SLACK (16u << 20)

typedef struct gds_bench {
    const kvs_gpu_ops *gpu;
    const char *dir;
    uint32_t n;
    size_t payload;
    void *host;          /* pinned: the pattern, and the raw path's bounce buffer */
    void *dev;           /* device: the pattern, and the raw path's destination */
    kvs_cache *cache;
    bool device_chunks;  /* the tier takes chunks in GPU memory (a cuFile path) */
    char io_path[256];
    kvs_key ns;
    kvs_chunk_request *req;
    int32_t *tokens;     /* n × TOKENS */
} gds_bench;

static int usage(void)
{
    fprintf(stderr, "usage: kvspill bench gds --dir DIR [--chunks 64] [--json]\n"
                    "DIR is where the objects go: the file system to measure (an NFS-over-RDMA\n"
                    "mount for GPUDirect Storage). Needs a CUDA build and a GPU.\n");
    return 2;
}

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "kvspill bench gds: %s: %s\n", what, msg);
    return -1;
}

static int open_cache(gds_bench *b)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = false;
    snprintf(cfg.gds_path, sizeof cfg.gds_path, "%s", b->dir);
    /* Room for every chunk of a batch in the staging buffer, so no read falls back. */
    cfg.cufile_buffer_size = (uint64_t)b->n * kvs_payload_bytes(&tinyllama, TOKENS) + STAGING_SLACK;
    cfg.gpu = b->gpu;
    snprintf(cfg.writer_id, sizeof cfg.writer_id, "bench-gds");
    kvs_error err;
    if (kvs_cache_open(&cfg, &b->cache, &err) != KVS_OK)
        return fail(b->dir, err.msg);
    kvs_stats st;
    kvs_cache_stats(b->cache, &st);
    for (uint32_t i = 0; i < st.n_tiers; i++)
        if (!strcmp(st.tiers[i].name, "gds"))
            snprintf(b->io_path, sizeof b->io_path, "%s", st.tiers[i].io_path);
    return 0;
}

/* Round r's chain: its own namespace, so its puts write new objects. */
static int make_chain(gds_bench *b, int r)
{
    char salt[64];
    snprintf(salt, sizeof salt, "kvspill bench gds round %d", r);
    kvs_namespace_desc desc = {.layout = tinyllama, .tp_size = 1, .cache_salt = salt};
    kvs_error err;
    if (kvs_namespace_id(&desc, &b->ns, &err) != KVS_OK)
        return fail("namespace", err.msg);
    kvs_key parent = b->ns;
    for (uint32_t i = 0; i < b->n; i++) {
        int32_t *t = b->tokens + (size_t)i * TOKENS;
        for (uint32_t j = 0; j < TOKENS; j++)
            t[j] = (int32_t)((i * TOKENS + j) % 32000);
        b->req[i] = (kvs_chunk_request){.chunk_index = i, .tokens = t, .n_tokens = TOKENS};
        kvs_key_next(&parent, t, TOKENS, &b->req[i].key);
        parent = b->req[i].key;
    }
    return 0;
}

/* A chunk of the chain holding the pattern: in GPU memory when the tier takes device chunks,
 * else in host memory copied from the GPU (what an engine without GPUDirect does). */
static kvs_chunk *make_chunk(gds_bench *b, uint32_t i)
{
    const kvs_key *parent = i ? &b->req[i - 1].key : &b->ns;
    kvs_chunk *c = NULL;
    kvs_error err;
    kvs_status st = b->device_chunks
                        ? kvs_chunk_new_device(b->cache, &b->ns, parent, &b->req[i].key, i,
                                               b->req[i].tokens, TOKENS, &tinyllama, &c, &err)
                        : kvs_chunk_new(&b->ns, parent, &b->req[i].key, i, b->req[i].tokens,
                                        TOKENS, &tinyllama, &c, &err);
    if (st != KVS_OK) {
        fail("chunk", err.msg);
        return NULL;
    }
    void *dst = (void *)kvs_chunk_payload(c);
    int rc = b->device_chunks ? b->gpu->copy_to_device(b->gpu->user, dst, b->host, b->payload)
                              : b->gpu->copy_to_host(b->gpu->user, dst, b->dev, b->payload);
    if (rc != 0) {
        kvs_chunk_release(c);
        fail("chunk", "copy between host and GPU failed");
        return NULL;
    }
    return c;
}

static int tier_write(gds_bench *b, double *s)
{
    kvs_chunk **c = calloc(b->n, sizeof *c);
    if (!c)
        return fail("write", "out of memory");
    /* Device chunks are filled untimed: in an engine a gather kernel writes them in place.
     * Host chunks are filled timed: the copy from the GPU is part of that path's cost. */
    double t0 = bench_now_s();
    uint32_t made = 0;
    while (made < b->n && (c[made] = make_chunk(b, made)))
        made++;
    if (b->device_chunks)
        t0 = bench_now_s();
    kvs_batch *batch = NULL;
    kvs_error err;
    int rc = made == b->n ? 0 : -1;
    if (rc == 0 && kvs_put_async(b->cache, c, made, &batch, &err) != KVS_OK)
        rc = fail("put", err.msg);
    else if (rc == 0) {
        kvs_batch_wait(batch, -1);
        if (kvs_batch_loaded(batch) != b->n)
            rc = fail("put", kvs_status_str(kvs_batch_item_status(batch, kvs_batch_loaded(batch))));
        kvs_batch_free(batch);
    } else
        for (uint32_t i = 0; i < made; i++)
            kvs_chunk_release(c[i]);
    *s = bench_now_s() - t0;
    free(c);
    return rc;
}

/* Reads the chain; the first chunk's bytes are checked against the pattern, untimed. */
static int tier_read(gds_bench *b, double *s)
{
    kvs_batch *batch = NULL;
    kvs_error err;
    double t0 = bench_now_s();
    if (kvs_get_async(b->cache, &b->ns, b->req, b->n, &batch, &err) != KVS_OK)
        return fail("get", err.msg);
    kvs_batch_wait(batch, -1);
    int rc = kvs_batch_loaded(batch) == b->n ? 0 : -1;
    for (uint32_t i = 0; i < b->n && rc == 0; i++) {
        kvs_chunk *c = kvs_batch_chunk(batch, i);
        if (!kvs_chunk_on_device(c) &&
            b->gpu->copy_to_device(b->gpu->user, b->dev, kvs_chunk_payload(c), b->payload))
            rc = fail("get", "copy to the GPU failed");
    }
    *s = bench_now_s() - t0;
    if (kvs_batch_loaded(batch) != b->n)
        rc = fail("get", kvs_status_str(kvs_batch_item_status(batch, kvs_batch_loaded(batch))));
    if (rc == 0) {
        kvs_chunk *c = kvs_batch_chunk(batch, 0);
        uint8_t *check = malloc(b->payload);
        const void *src = kvs_chunk_payload(c);
        if (!check || (kvs_chunk_on_device(c)
                           ? b->gpu->copy_to_host(b->gpu->user, check, src, b->payload)
                           : (memcpy(check, src, b->payload), 0)) ||
            memcmp(check, b->host, b->payload))
            rc = fail("get", "the bytes read back differ from the bytes written");
        free(check);
    }
    kvs_batch_free(batch);
    return rc;
}

/* Object files under the tier's directory, for the raw pass and the page-cache drop. */
static char **objects;
static size_t n_objects, cap_objects;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *f)
{
    size_t len = strlen(path);
    if (type != FTW_F || len < 4 || strcmp(path + len - 4, ".kvc"))
        return 0;
    if (n_objects == cap_objects) {
        size_t cap = cap_objects ? 2 * cap_objects : 64;
        char **o = realloc(objects, cap * sizeof *o);
        if (!o)
            return -1;
        objects = o;
        cap_objects = cap;
    }
    return (objects[n_objects] = strdup(path)) ? (n_objects++, 0) : -1;
}

static void free_objects(void)
{
    for (size_t i = 0; i < n_objects; i++)
        free(objects[i]);
    free(objects);
    objects = NULL;
    n_objects = cap_objects = 0;
}

static void drop_cached_pages(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* The path without GPUDirect: for every object, GPU → pinned → pwrite into a new file, then
 * pread → pinned → GPU. Same files, same sizes, O_DIRECT where the file system allows it. */
static int raw_io(gds_bench *b, double *write_s, double *read_s, double *bytes)
{
    *write_s = *read_s = *bytes = 0;
    for (size_t i = 0; i < n_objects; i++) {
        struct stat sb;
        if (stat(objects[i], &sb) != 0)
            return fail(objects[i], strerror(errno));
        size_t size = (size_t)sb.st_size;
        if (size > b->payload + (1u << 20))
            return fail(objects[i], "larger than the benchmark's buffers");
        char path[KVS_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s.raw", objects[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
        if (fd < 0 && errno == EINVAL)
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return fail(path, strerror(errno));
        double t0 = bench_now_s();
        int rc = b->gpu->copy_to_host(b->gpu->user, b->host, b->dev, size) ? -1 : 0;
        if (rc == 0 && pwrite(fd, b->host, size, 0) != (ssize_t)size)
            rc = -1;
        *write_s += bench_now_s() - t0;
        close(fd);
        if (rc == 0) {
            drop_cached_pages(path);
            fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
            if (fd < 0)
                fd = open(path, O_RDONLY | O_CLOEXEC);
            t0 = bench_now_s();
            if (fd < 0 || pread(fd, b->host, size, 0) != (ssize_t)size ||
                b->gpu->copy_to_device(b->gpu->user, b->dev, b->host, size))
                rc = -1;
            *read_s += bench_now_s() - t0;
            if (fd >= 0)
                close(fd);
        }
        unlink(path);
        if (rc != 0)
            return fail(path, errno ? strerror(errno) : "copy between host and GPU failed");
        *bytes += (double)size;
    }
    return 0;
}

static int remove_chain(gds_bench *b)
{
    kvs_error err;
    for (uint32_t i = 0; i < b->n; i++)
        if (kvs_remove(b->cache, &b->ns, &b->req[i].key, &err) != KVS_OK)
            return fail("remove", err.msg);
    return 0;
}

typedef struct gds_round {
    double tier_write, tier_read, raw_write, raw_read;
} gds_round;

static int run_round(gds_bench *b, int r, gds_round *out)
{
    double bytes = (double)b->n * (double)b->payload, raw_w, raw_r, raw_bytes;
    if (make_chain(b, r) || tier_write(b, &out->tier_write))
        return -1;
    /* The round's namespace directory (ARCHITECTURE.md §3: <root>/v1/<ns>/...). */
    char ns_hex[KVS_KEY_HEX_LEN + 1], ns_dir[KVS_PATH_MAX + 80];
    kvs_key_hex(&b->ns, ns_hex);
    snprintf(ns_dir, sizeof ns_dir, "%s/v1/%s", b->dir, ns_hex);
    if (nftw(ns_dir, collect, 16, FTW_PHYS) != 0 || n_objects != b->n) {
        free_objects();
        return fail(ns_dir, "the objects just written are not all there");
    }
    for (size_t i = 0; i < n_objects; i++)
        drop_cached_pages(objects[i]);
    int rc = tier_read(b, &out->tier_read);
    if (rc == 0)
        rc = raw_io(b, &raw_w, &raw_r, &raw_bytes);
    free_objects();
    if (rc == 0) {
        out->tier_write = bytes / out->tier_write / 1e9;
        out->tier_read = bytes / out->tier_read / 1e9;
        out->raw_write = raw_bytes / raw_w / 1e9;
        out->raw_read = raw_bytes / raw_r / 1e9;
    }
    return rc ? rc : remove_chain(b);
}

static int setup(gds_bench *b, engine_error *eerr)
{
    if (!(b->gpu = engine_gpu_ops_device(0, eerr))) {
        fprintf(stderr, "kvspill bench gds: %s\n", eerr->msg);
        return -1;
    }
    b->payload = kvs_payload_bytes(&tinyllama, TOKENS);
    b->host = b->gpu->host_alloc(b->gpu->user, b->payload + (1u << 20));
    b->dev = b->gpu->device_alloc(b->gpu->user, b->payload + (1u << 20));
    b->req = calloc(b->n, sizeof *b->req);
    b->tokens = malloc((size_t)b->n * TOKENS * sizeof *b->tokens);
    if (!b->host || !b->dev || !b->req || !b->tokens)
        return fail("setup", "out of host or GPU memory");
    uint64_t x = 0x9E3779B97F4A7C15ull, *p = b->host;
    for (size_t k = 0; k < b->payload / 8; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = x;
    }
    if (b->gpu->copy_to_device(b->gpu->user, b->dev, b->host, b->payload))
        return fail("setup", "copy to the GPU failed");
    if (open_cache(b))
        return -1;
    /* A cuFile path takes chunks in GPU memory; the POSIX fallback takes host chunks. */
    b->device_chunks = !strncmp(b->io_path, "cufile", 6);
    return 0;
}

static void teardown(gds_bench *b)
{
    kvs_cache_close(b->cache);
    if (b->gpu) {
        b->gpu->host_free(b->gpu->user, b->host);
        b->gpu->device_free(b->gpu->user, b->dev);
    }
    free(b->req);
    free(b->tokens);
}

int bench_gds(int argc, char **argv)
{
    gds_bench b = {.n = 64};
    bool json = false;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            b.dir = argv[++i];
        else if (!strcmp(argv[i], "--chunks") && i + 1 < argc) {
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || n == 0 || n > 4096)
                return usage();
            b.n = (uint32_t)n;
        } else
            return usage();
    }
    if (!b.dir)
        return usage();
    engine_error eerr;
    gds_round rounds[ROUNDS];
    int rc = setup(&b, &eerr);
    for (int r = 0; r < ROUNDS && rc == 0; r++)
        rc = run_round(&b, r, &rounds[r]);
    if (rc == 0) {
        double tw[ROUNDS], tr[ROUNDS], rw[ROUNDS], rr[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            tw[r] = rounds[r].tier_write;
            tr[r] = rounds[r].tier_read;
            rw[r] = rounds[r].raw_write;
            rr[r] = rounds[r].raw_read;
        }
        double gw = bench_median(tw, ROUNDS), gr = bench_median(tr, ROUNDS);
        double pw = bench_median(rw, ROUNDS), pr = bench_median(rr, ROUNDS);
        if (json)
            printf("{\"io_path\":\"%s\",\"chunks\":%u,\"payload_bytes\":%zu,"
                   "\"gds_write_gbps\":%.3f,\"gds_read_gbps\":%.3f,\"raw_write_gbps\":%.3f,"
                   "\"raw_read_gbps\":%.3f,\"write_ratio\":%.3f,\"read_ratio\":%.3f}\n",
                   b.io_path, b.n, b.payload, gw, gr, pw, pr, gw / pw, gr / pr);
        else
            printf("gds tier: %s\n%u chunks of %zu bytes, median of %d rounds\n"
                   "write into files from GPU memory: tier %.2f GB/s, raw %.2f GB/s, ratio %.2f\n"
                   "read from files into GPU memory:  tier %.2f GB/s, raw %.2f GB/s, ratio %.2f\n",
                   b.io_path, b.n, b.payload, ROUNDS, gw, pw, gw / pw, gr, pr, gr / pr);
    }
    teardown(&b);
    return rc ? 2 : 0;
}
