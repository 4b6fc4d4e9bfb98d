/* kvspill bench io --redis URL: the redis tier against hiredis alone.
 *
 * The tier's numbers include everything a cache pays: key building, the pooled
 * connection, pipelining in 16 MiB windows, the copy of each value into an aligned buffer
 * and the full verification (header and payload checksums). The baseline sends the same
 * bytes as plain SET/GET pipelines of the same batch size on one connection and does
 * nothing with the answers. Each figure is the median of ROUNDS rounds; tier and raw
 * alternate within a round so that drift on a shared machine hits both. */
#include "tools/bench/bench_redis.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cache/kvs_admin.h"
#include "tools/bench/bench_util.h"

#define BATCH 8
#define ROUNDS 5
#define DEFAULT_CHUNKS 32
/* TinyLlama's KV for one 256-token chunk: 22 layers x K,V x 4 heads x 64 x f16 x 256. */
#define DEFAULT_CHUNK_BYTES (22ull * 2 * 4 * 64 * 2 * 256)
#define LAYER_BYTES_256 (2ull * 4 * 64 * 2 * 256) /* one layer of that shape */
#define TIMEOUT_MS 5000u

typedef struct bench_opts {
    const char *url;
    uint64_t chunk_bytes;
    uint32_t chunks;
    bool json;
} bench_opts;

typedef struct bench_data {
    kvs_key ns;
    kvs_chunk **chunks;
    kvs_chunk_request *reqs;
    uint32_t n;
    uint32_t n_tokens;
    kvs_layout layout;
} bench_data;

static const char usage[] = "--redis URL [--chunk-bytes N] [--chunks N] [--json]";

static int usage_error(const char *cmd, const char *why)
{
    fprintf(stderr, "kvspill %s: %s\nusage: kvspill %s %s\n", cmd, why, cmd, usage);
    return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-' || x == 0 || x > max)
        return false;
    *v = x;
    return true;
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.chunk_bytes = DEFAULT_CHUNK_BYTES, .chunks = DEFAULT_CHUNKS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        uint64_t v;
        if (!strcmp(a, "--redis") && has_value) {
            o->url = argv[++i];
        } else if (!strcmp(a, "--chunk-bytes") && has_value) {
            if (!parse_u64(argv[++i], 1ull << 30, &v))
                return usage_error(argv[0], "--chunk-bytes: expected 1 to 1 GiB");
            o->chunk_bytes = v;
        } else if (!strcmp(a, "--chunks") && has_value) {
            if (!parse_u64(argv[++i], 100000, &v))
                return usage_error(argv[0], "--chunks: expected 1 to 100000");
            o->chunks = (uint32_t)v;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else {
            return usage_error(argv[0], "unknown or incomplete option");
        }
    }
    if (!o->url)
        return usage_error(argv[0], "--redis URL is required");
    return 0;
}

static void fill_random(void *buf, size_t n, uint64_t *state)
{
    uint8_t *p = buf;
    uint64_t x = *state;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, n - i < 8 ? n - i : 8);
    }
    *state = x;
}

/* A layout near the requested size: whole 256-token layers of TinyLlama's shape, or for
 * less than one layer, fewer tokens. */
static void pick_layout(uint64_t bytes, kvs_layout *layout, uint32_t *n_tokens)
{
    *layout = (kvs_layout){.n_kv_heads = 4, .head_dim = 64, .dtype = KVS_DTYPE_F16};
    if (bytes >= LAYER_BYTES_256) {
        uint64_t layers = (bytes + LAYER_BYTES_256 / 2) / LAYER_BYTES_256;
        /* At most 4096, the object format's bound, as --chunk-bytes is at most 1 GiB. */
        layout->n_layers = (uint32_t)layers;
        *n_tokens = 256;
    } else {
        layout->n_layers = 1;
        uint64_t per_token = LAYER_BYTES_256 / 256;
        *n_tokens = bytes / per_token ? (uint32_t)(bytes / per_token) : 1;
    }
}

static void free_data(bench_data *d)
{
    for (uint32_t i = 0; d->chunks && i < d->n; i++)
        if (d->chunks[i])
            kvs_chunk_release(d->chunks[i]);
    free(d->chunks);
    free(d->reqs);
}

/* A chain of sealed chunks with random payloads in a namespace of its own. */
static kvs_status make_data(const bench_opts *o, bench_data *d, kvs_error *err)
{
    memset(d, 0, sizeof *d);
    pick_layout(o->chunk_bytes, &d->layout, &d->n_tokens);
    uint64_t rng = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid();
    fill_random(d->ns.b, sizeof d->ns.b, &rng);
    d->chunks = calloc(o->chunks, sizeof *d->chunks);
    d->reqs = calloc(o->chunks, sizeof *d->reqs);
    int32_t *tokens = malloc(d->n_tokens * sizeof *tokens);
    if (!d->chunks || !d->reqs || !tokens) {
        free(tokens);
        return KVS_ERR_NOMEM;
    }
    d->n = o->chunks;
    kvs_key parent = d->ns;
    kvs_status s = KVS_OK;
    for (uint32_t i = 0; i < d->n && s == KVS_OK; i++) {
        for (uint32_t t = 0; t < d->n_tokens; t++)
            tokens[t] = (int32_t)((i * 7919u + t * 104729u) % 32000u);
        kvs_key key;
        kvs_key_next(&parent, tokens, d->n_tokens, &key);
        s = kvs_chunk_new(&d->ns, &parent, &key, i, tokens, d->n_tokens, &d->layout,
                          &d->chunks[i], err);
        if (s != KVS_OK)
            break;
        fill_random(kvs_chunk_segment_mut(d->chunks[i], 0, 0),
                    kvs_chunk_get_info(d->chunks[i])->payload_size, &rng);
        kvs_chunk_seal(d->chunks[i], NULL);
        d->reqs[i] = (kvs_chunk_request){.key = key, .chunk_index = i,
                                         .tokens = kvs_chunk_tokens(d->chunks[i]),
                                         .n_tokens = d->n_tokens};
        parent = key;
    }
    free(tokens);
    return s;
}

/* ---- the tier ------------------------------------------------------------------------- */

static double tier_put(kvs_tier *t, const bench_data *d)
{
    kvs_status st[BATCH];
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < d->n; i += BATCH) {
        size_t n = d->n - i < BATCH ? d->n - i : BATCH;
        t->methods->put(t, d->chunks + i, n, st);
        for (size_t j = 0; j < n; j++)
            if (st[j] != KVS_OK)
                return -1;
    }
    return bench_now_s() - t0;
}

static double tier_get(kvs_tier *t, const bench_data *d)
{
    kvs_status st[BATCH];
    kvs_chunk *out[BATCH];
    bool ok = true;
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < d->n; i += BATCH) {
        size_t n = d->n - i < BATCH ? d->n - i : BATCH;
        t->methods->get(t, &d->ns, d->reqs + i, n, out, st);
        for (size_t j = 0; j < n; j++) {
            ok = ok && st[j] == KVS_OK;
            if (out[j])
                kvs_chunk_release(out[j]);
        }
    }
    double dt = bench_now_s() - t0;
    return ok ? dt : -1;
}

/* ---- hiredis alone -------------------------------------------------------------------- */

static void raw_key(uint32_t i, char *out, size_t size)
{
    snprintf(out, size, "kvspill:bench:raw:%ld:%u", (long)getpid(), i);
}

/* Pipelines SET (values) or GET of the same sizes in the same batches; -1 on a failure. */
static double raw_run(redisContext *c, const bench_data *d, bool set)
{
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < d->n; i += BATCH) {
        uint32_t n = d->n - i < BATCH ? d->n - i : BATCH;
        for (uint32_t j = i; j < i + n; j++) {
            char key[64];
            raw_key(j, key, sizeof key);
            size_t size;
            const char *value = (const char *)kvs_chunk_object_bytes(d->chunks[j], &size);
            const char *argv[3] = {set ? "SET" : "GET", key, value};
            const size_t lens[3] = {3, strlen(key), size};
            redisAppendCommandArgv(c, set ? 3 : 2, argv, lens);
        }
        for (uint32_t j = 0; j < n; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                return -1;
            size_t size;
            kvs_chunk_object_bytes(d->chunks[i + j], &size);
            bool ok = set ? r->type == REDIS_REPLY_STATUS
                          : r->type == REDIS_REPLY_STRING && r->len == size;
            freeReplyObject(r);
            if (!ok)
                return -1;
        }
    }
    return bench_now_s() - t0;
}

static void raw_cleanup(redisContext *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char key[64];
        raw_key(i, key, sizeof key);
        redisAppendCommand(c, "DEL %s", key);
    }
    for (uint32_t i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return;
        freeReplyObject(r);
    }
}

/* ---- the run -------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return v[ROUNDS / 2];
}

enum { TIER_PUT, TIER_GET, RAW_SET, RAW_GET, N_MEASURES };
static const char *const measure_names[N_MEASURES] = {"tier put", "tier get", "raw SET",
                                                      "raw GET"};

static int run(const char *cmd, const bench_opts *o, kvs_tier *t, redisContext *raw,
               const bench_data *d)
{
    double secs[N_MEASURES][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        /* alternate which goes first, so that neither always meets a warmer server */
        static const int orders[2][N_MEASURES] = {{TIER_PUT, TIER_GET, RAW_SET, RAW_GET},
                                                  {RAW_SET, RAW_GET, TIER_PUT, TIER_GET}};
        for (int k = 0; k < N_MEASURES; k++) {
            int m = orders[r % 2][k];
            secs[m][r] = m == TIER_PUT ? tier_put(t, d)
                         : m == TIER_GET ? tier_get(t, d)
                                         : raw_run(raw, d, m == RAW_SET);
            if (secs[m][r] < 0) {
                kvs_tier_stats s;
                t->methods->stats(t, &s);
                fprintf(stderr, "kvspill %s: %s failed in round %d%s%s\n", cmd,
                        measure_names[m], r + 1,
                        m <= TIER_GET && s.last_error[0] ? ": " : "",
                        m <= TIER_GET ? s.last_error : "");
                return 1;
            }
        }
    }
    double bytes = 0;
    size_t object_bytes = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        kvs_chunk_object_bytes(d->chunks[i], &object_bytes);
        bytes += (double)object_bytes;
    }
    double gbps[N_MEASURES];
    for (int m = 0; m < N_MEASURES; m++)
        gbps[m] = bytes / median(secs[m]) / 1e9;

    kvs_chunk_object_bytes(d->chunks[0], &object_bytes);
    uint64_t payload_bytes = kvs_chunk_get_info(d->chunks[0])->payload_size;
    if (o->json) {
        printf("{\"bench\":\"io-redis\",\"object_bytes\":%zu,\"payload_bytes\":%" PRIu64
               ",\"chunks\":%u,\"batch\":%d,\"rounds\":%d,"
               "\"put\":{\"tier_gbps\":%.4f,\"raw_gbps\":%.4f,\"ratio\":%.4f},"
               "\"get\":{\"tier_gbps\":%.4f,\"raw_gbps\":%.4f,\"ratio\":%.4f}}\n",
               object_bytes, payload_bytes, d->n, BATCH, ROUNDS, gbps[TIER_PUT],
               gbps[RAW_SET], gbps[TIER_PUT] / gbps[RAW_SET], gbps[TIER_GET], gbps[RAW_GET],
               gbps[TIER_GET] / gbps[RAW_GET]);
        return 0;
    }
    printf("redis tier vs hiredis alone: %u objects of %zu bytes (%u layers x %u heads x %u x "
           "%s x %u tokens), batches of %d, median of %d rounds\n",
           d->n, object_bytes, d->layout.n_layers, d->layout.n_kv_heads, d->layout.head_dim,
           kvs_dtype_name(d->layout.dtype), d->n_tokens, BATCH, ROUNDS);
    printf("%-5s %12s %12s %10s\n", "", "tier GB/s", "raw GB/s", "tier/raw");
    printf("%-5s %12.3f %12.3f %10.2f\n", "put", gbps[TIER_PUT], gbps[RAW_SET],
           gbps[TIER_PUT] / gbps[RAW_SET]);
    printf("%-5s %12.3f %12.3f %10.2f\n", "get", gbps[TIER_GET], gbps[RAW_GET],
           gbps[TIER_GET] / gbps[RAW_GET]);
    return 0;
}

int bench_io_redis(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN); /* the baseline writes with hiredis unguarded */

    kvs_error err = {0};
    redisContext *raw = NULL;
    kvs_tier *t = NULL;
    kvs_redis_tier_options to = {.url = o.url, .pool_size = 1,
                                 .connect_timeout_ms = TIMEOUT_MS,
                                 .command_timeout_ms = TIMEOUT_MS};
    if (kvs_redis_connect_url(o.url, TIMEOUT_MS, &raw, &err) != KVS_OK ||
        kvs_tier_redis_open(&to, &t, &err) != KVS_OK) {
        fprintf(stderr, "kvspill %s: %s\n", argv[0], err.msg);
        if (raw)
            redisFree(raw);
        return 2;
    }
    bench_data d;
    if (make_data(&o, &d, &err) != KVS_OK) {
        fprintf(stderr, "kvspill %s: building %u chunks: %s\n", argv[0], o.chunks,
                err.msg[0] ? err.msg : "out of memory");
        rc = 2;
    } else {
        rc = run(argv[0], &o, t, raw, &d);
        for (uint32_t i = 0; i < d.n; i++)
            t->methods->remove(t, &d.ns, &d.reqs[i].key, NULL);
        raw_cleanup(raw, d.n);
    }
    free_data(&d);
    t->methods->close(t);
    redisFree(raw);
    return rc;
}
