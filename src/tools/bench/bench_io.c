/* kvspill bench io --dir DIR: the file tier's write and read bandwidth for real chunk
 * sizes (through the tier interface, a batch of chunks in flight), against plain
 * sequential I/O of the same bytes on the same file system measured in the same run, and
 * the lookup cost of a 512-chunk (131072-token) prompt on a warm and a freshly opened tier.
 * --redis URL hands over to the redis tier's benchmark. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/kvs_admin.h"
#include "tools/bench/bench.h"
#include "tools/bench/bench_redis.h"
#include "tools/bench/bench_util.h"

/* TinyLlama's KV layout; a 256-token chunk of it is ~5.8 MB. */
static const kvs_layout tinyllama = {22, 4, 64, KVS_DTYPE_F16};
#define DEFAULT_TOKENS 256u
#define DEFAULT_CHUNKS 32u
#define BATCH 8u
#define LOOKUP_CHUNKS 512u
/* Tier and raw alternate within each round, so that drift on a shared machine hits both;
 * each bandwidth is the median of the rounds, each ratio the median of the rounds' own
 * tier/raw ratios. */
#define ROUNDS 5

typedef struct bench_opts {
    const char *dir;
    uint64_t chunk_bytes;
    uint32_t chunks;
    uint32_t streams; /* threads a tier batch is split over; 0: the tier's default */
    bool json, keep;
} bench_opts;

static int usage(void)
{
    fprintf(stderr, "usage: kvspill bench io --dir DIR [--chunk-bytes N] [--chunks N] "
                    "[--streams N] [--json] [--keep]\n       kvspill bench io --redis URL [...]\n");
    return 2;
}

static bool parse_opts(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.chunks = DEFAULT_CHUNKS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--json"))
            o->json = true;
        else if (!strcmp(a, "--keep"))
            o->keep = true;
        else if (!strcmp(a, "--dir") && v)
            o->dir = argv[++i];
        else if (!strcmp(a, "--chunk-bytes") && v) {
            o->chunk_bytes = strtoull(v, &end, 10);
            if (*end || o->chunk_bytes == 0)
                return false;
            i++;
        } else if (!strcmp(a, "--streams") && v) {
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n == 0 || n > 64)
                return false;
            o->streams = (uint32_t)n;
            i++;
        } else if (!strcmp(a, "--chunks") && v) {
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n == 0 || n > 100000)
                return false;
            o->chunks = (uint32_t)n;
            i++;
        } else
            return false;
    }
    return o->dir != NULL;
}

/* A chain of n chunks of the layout, payloads random, sealed. */
static kvs_chunk **make_chain(const kvs_layout *lay, uint32_t tokens, uint32_t n, kvs_key *ns,
                              kvs_error *err)
{
    kvs_chunk **c = calloc(n, sizeof *c);
    int32_t *tok = malloc(tokens * sizeof *tok);
    if (!c || !tok) {
        free(c);
        free(tok);
        return NULL;
    }
    /* The layout is part of the namespace, so the lookup's one-block chain never shares
     * keys with the bandwidth chain that --keep leaves behind. */
    kvs_namespace_desc desc = {.layout = *lay, .tp_size = 1, .cache_salt = "kvspill bench io"};
    if (kvs_namespace_id(&desc, ns, err) != KVS_OK) {
        free(c);
        free(tok);
        return NULL;
    }
    kvs_key parent = *ns;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < tokens; j++)
            tok[j] = (int32_t)((i * tokens + j) % 32000);
        kvs_key key;
        kvs_key_next(&parent, tok, tokens, &key);
        if (kvs_chunk_new(ns, &parent, &key, i, tok, tokens, lay, &c[i], err) != KVS_OK) {
            for (uint32_t k = 0; k < i; k++)
                kvs_chunk_release(c[k]);
            free(c);
            free(tok);
            return NULL;
        }
        uint64_t *p = (uint64_t *)kvs_chunk_segment_mut(c[i], 0, 0);
        for (size_t k = 0; k < kvs_chunk_get_info(c[i])->payload_size / 8; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[k] = x;
        }
        kvs_chunk_seal(c[i], NULL);
        parent = key;
    }
    free(tok);
    return c;
}

static void free_chain(kvs_chunk **c, uint32_t n)
{
    for (uint32_t i = 0; i < n && c; i++)
        kvs_chunk_release(c[i]);
    free(c);
}

/* The baseline: plain sequential writes then reads of one new file, one transfer of one
 * object's size at a time (queue depth 1), the same total bytes and the same O_DIRECT mode
 * as the tier; the file is removed after each round, untimed. */
static int raw_io(const char *dir, bool direct, const uint8_t *buf, size_t obj, uint32_t n,
                  double *write_s, double *read_s)
{
    char path[KVS_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/raw.%ld", dir, (long)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0) {
        fprintf(stderr, "kvspill bench io: create %s: %s\n", path, strerror(errno));
        return -1;
    }
    void *rbuf = NULL;
    int rc = posix_memalign(&rbuf, 4096, obj) == 0 ? 0 : -1; /* O_DIRECT's alignment */
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if (pwrite(fd, buf, obj, (off_t)i * (off_t)obj) != (ssize_t)obj)
            rc = -1;
    *write_s = bench_now_s() - t0;
    t0 = bench_now_s();
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if (pread(fd, rbuf, obj, (off_t)i * (off_t)obj) != (ssize_t)obj)
            rc = -1;
    *read_s = bench_now_s() - t0;
    if (rc != 0)
        fprintf(stderr, "kvspill bench io: raw I/O on %s: %s\n", path, strerror(errno));
    free(rbuf);
    close(fd);
    unlink(path);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v)
{
    double s[ROUNDS];
    memcpy(s, v, sizeof s);
    qsort(s, ROUNDS, sizeof s[0], cmp_double);
    return s[ROUNDS / 2];
}

static kvs_tier *open_tier(const char *dir, uint32_t streams, kvs_error *err)
{
    kvs_file_tier_options o = {.name = "local_disk", .root = dir, .io_depth = BATCH,
                               .writer_id = "bench"};
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    if (streams)
        tune.streams = streams;
    kvs_tier *t = NULL;
    kvs_tier_file_open_tuned(&o, &tune, &t, err);
    return t;
}

static int tier_io(kvs_tier *t, kvs_chunk **c, uint32_t n, const kvs_key *ns, double *write_s,
                   double *read_s)
{
    kvs_status st[BATCH];
    kvs_chunk *out[BATCH];
    kvs_chunk_request req[BATCH];
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < n; i += BATCH) {
        uint32_t m = n - i < BATCH ? n - i : BATCH;
        t->methods->put(t, c + i, m, st);
        for (uint32_t k = 0; k < m; k++)
            if (st[k] != KVS_OK)
                return -1;
    }
    *write_s = bench_now_s() - t0;
    t0 = bench_now_s();
    for (uint32_t i = 0; i < n; i += BATCH) {
        uint32_t m = n - i < BATCH ? n - i : BATCH;
        for (uint32_t k = 0; k < m; k++) {
            const kvs_chunk_info *info = kvs_chunk_get_info(c[i + k]);
            req[k] = (kvs_chunk_request){info->key, i + k, kvs_chunk_tokens(c[i + k]),
                                         info->n_tokens};
        }
        t->methods->get(t, ns, req, m, out, st);
        for (uint32_t k = 0; k < m; k++) {
            if (st[k] != KVS_OK)
                return -1;
            kvs_chunk_release(out[k]);
        }
    }
    *read_s = bench_now_s() - t0;
    return 0;
}

typedef struct lookup_cost {
    double warm_us, cold_us;
    uint64_t warm_ops, cold_ops;
} lookup_cost;

/* Lookup cost depends on the number of objects, not their size: 512 one-block chunks. */
static int lookup(const char *dir, lookup_cost *lc, kvs_error *err)
{
    const kvs_layout one = {1, 1, 8, KVS_DTYPE_F16};
    kvs_key ns, keys[LOOKUP_CHUNKS];
    kvs_chunk **c = make_chain(&one, DEFAULT_TOKENS, LOOKUP_CHUNKS, &ns, err);
    kvs_tier *t = c ? open_tier(dir, 0, err) : NULL;
    if (!t) {
        free_chain(c, LOOKUP_CHUNKS);
        return -1;
    }
    kvs_status st[LOOKUP_CHUNKS];
    t->methods->put(t, c, LOOKUP_CHUNKS, st);
    for (uint32_t i = 0; i < LOOKUP_CHUNKS; i++)
        keys[i] = kvs_chunk_get_info(c[i])->key;
    free_chain(c, LOOKUP_CHUNKS);
    kvs_tier_stats s0, s1;
    int rc = 0;
    for (int cold = 0; cold < 2 && rc == 0; cold++) {
        if (cold) {
            t->methods->close(t);
            if (!(t = open_tier(dir, 0, err)))
                return -1;
        }
        t->methods->stats(t, &s0);
        double t0 = bench_now_s();
        size_t hit = t->methods->contains_prefix(t, &ns, keys, LOOKUP_CHUNKS);
        double us = (bench_now_s() - t0) * 1e6;
        t->methods->stats(t, &s1);
        if (hit != LOOKUP_CHUNKS)
            rc = -1;
        *(cold ? &lc->cold_us : &lc->warm_us) = us;
        *(cold ? &lc->cold_ops : &lc->warm_ops) = s1.metadata_ops - s0.metadata_ops;
    }
    for (uint32_t i = 0; i < LOOKUP_CHUNKS; i++)
        t->methods->remove(t, &ns, &keys[i], err);
    t->methods->close(t);
    return rc;
}

int bench_io(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--redis"))
            return bench_io_redis(argc, argv);
    bench_opts o;
    if (!parse_opts(argc, argv, &o))
        return usage();
    if (!o.streams) {
        kvs_file_tier_tuning tune;
        kvs_file_tier_default_tuning(&tune);
        o.streams = tune.streams;
    }
    uint32_t tokens = DEFAULT_TOKENS;
    if (o.chunk_bytes) {
        uint64_t per_token = (uint64_t)tinyllama.n_layers * 2 * tinyllama.n_kv_heads *
                    tinyllama.head_dim * kvs_dtype_size(tinyllama.dtype);
        uint64_t t = o.chunk_bytes / per_token;
        tokens = t < 1 ? 1 : t > 65536 ? 65536 : (uint32_t)t;
    }
    char dir[KVS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/kvspill-bench-io.%ld", o.dir, (long)getpid());
    kvs_error err;
    kvs_key ns;
    kvs_chunk **c = make_chain(&tinyllama, tokens, o.chunks, &ns, &err);
    if (!c) {
        fprintf(stderr, "kvspill bench io: %s\n", err.msg);
        return 2;
    }
    kvs_tier *t = open_tier(dir, o.streams, &err);
    if (!t) {
        fprintf(stderr, "kvspill bench io: %s\n", err.msg);
        free_chain(c, o.chunks);
        return 2;
    }
    const char *mode = kvs_tier_file_io_mode(t);
    bool direct = kvs_tier_file_uses_direct(t);
    size_t obj;
    const uint8_t *object = kvs_chunk_object_bytes(c[0], &obj);
    double bytes = (double)obj * o.chunks;
    double tw[ROUNDS] = {0}, tr[ROUNDS] = {0}, rw[ROUNDS] = {0}, rr[ROUNDS] = {0};
    int rc = 0;
    for (int r = 0; r < ROUNDS && rc == 0; r++) {
        rc = tier_io(t, c, o.chunks, &ns, &tw[r], &tr[r]);
        kvs_tier_stats ts;
        t->methods->stats(t, &ts);
        if (rc != 0)
            fprintf(stderr, "kvspill bench io: tier I/O on %s failed: %s\n", dir, ts.last_error);
        /* Untimed, like the raw file's unlink: each round's puts create new objects instead
         * of renaming over (and freeing) the previous round's, as raw writes a new file. */
        if (!o.keep || r + 1 < ROUNDS)
            for (uint32_t i = 0; i < o.chunks; i++)
                t->methods->remove(t, &ns, &kvs_chunk_get_info(c[i])->key, &err);
        if (rc == 0)
            rc = raw_io(dir, direct, object, obj, o.chunks, &rw[r], &rr[r]);
    }
    t->methods->close(t);
    free_chain(c, o.chunks);
    lookup_cost lc = {0};
    if (rc == 0 && lookup(dir, &lc, &err) != 0) {
        fprintf(stderr, "kvspill bench io: lookup on %s: %s\n", dir, err.msg);
        rc = -1;
    }
    if (!o.keep) {
        /* The objects are gone; rm -rf takes the fan-out directories left behind. */
        pid_t pid = fork();
        if (pid == 0) {
            execlp("rm", "rm", "-rf", dir, (char *)NULL);
            _exit(127);
        }
        while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc != 0)
        return 2;
    double wg = bytes / median(tw) / 1e9, rg = bytes / median(tr) / 1e9;
    double rwg = bytes / median(rw) / 1e9, rrg = bytes / median(rr) / 1e9;
    /* Ratios pair the tier with the raw run next to it, so drift cancels within a round. */
    double wratio[ROUNDS], rratio[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        wratio[r] = rw[r] / tw[r];
        rratio[r] = rr[r] / tr[r];
    }
    double wq = median(wratio), rq = median(rratio);
    const char *reads = direct ? "device (O_DIRECT)" : "page cache (buffered; caches not dropped)";
    if (o.json) {
        json_t *j = json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:{s:I,s:f,s:I,s:f,s:I}}",
            "dir", o.dir, "io_mode", mode, "streams", (json_int_t)o.streams, "chunk_tokens", (json_int_t)tokens, "chunk_bytes",
            (json_int_t)obj, "chunks", (json_int_t)o.chunks, "write_gbps", wg, "read_gbps", rg,
            "raw_write_gbps", rwg, "raw_read_gbps", rrg, "write_ratio", wq, "read_ratio", rq, "reads_from", reads, "lookup", "chunks", (json_int_t)LOOKUP_CHUNKS,
            "warm_us", lc.warm_us, "warm_metadata_ops", (json_int_t)lc.warm_ops, "cold_us",
            lc.cold_us, "cold_metadata_ops", (json_int_t)lc.cold_ops);
        if (o.keep)
            json_object_set_new(j, "kept_dir", json_string(dir));
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(j);
    } else {
        printf("file tier on %s: %s, %u chunks of %u tokens (%zu bytes each), batches of %u "
               "on %u streams, median of %d rounds\n", o.dir, mode, o.chunks, tokens, obj,
               BATCH, o.streams, ROUNDS);
        printf("  write  tier %6.2f GB/s   raw %6.2f GB/s   ratio %.2f\n", wg, rwg, wq);
        printf("  read   tier %6.2f GB/s   raw %6.2f GB/s   ratio %.2f   reads from: %s\n", rg,
               rrg, rq, reads);
        printf("  lookup of %u chunks (131072 tokens): warm %.0f us, %" PRIu64
               " metadata ops; cold %.0f us, %" PRIu64 " metadata ops\n",
               LOOKUP_CHUNKS, lc.warm_us, lc.warm_ops, lc.cold_us, lc.cold_ops);
        if (o.keep)
            printf("  objects kept in %s (kvspill cache ls %s)\n", dir, dir);
    }
    return 0;
}
