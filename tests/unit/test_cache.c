/* The cache engine over real tiers: round trips, lookup prefixes, promotion after a
 * restart, single-flight, the write budget, remove, flush, close with work queued, and a
 * local disk that goes away. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "cache/object.h"
#include "test_chunks.h"

static const kvs_layout small_layout = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                        .dtype = KVS_DTYPE_F16};

/* A prompt cut into chunks: keys, requests and the chunks themselves (payload seed i). */
typedef struct prompt {
    kvs_key ns;
    uint32_t chunk_size;
    size_t n_tokens, n;
    kvs_layout layout;
    int32_t *tokens;
    kvs_key *keys;
    kvs_chunk_request *reqs;
    uint64_t seed;
} prompt;

static void prompt_init(prompt *p, uint32_t chunk_size, size_t n_tokens, const kvs_layout *layout,
                        uint32_t seed, bool partial)
{
    memset(p, 0, sizeof *p);
    p->ns.b[0] = 0x5a;
    p->ns.b[1] = (uint8_t)seed;
    p->chunk_size = chunk_size;
    p->n_tokens = n_tokens;
    p->layout = *layout;
    p->seed = seed * 1000u;
    p->tokens = malloc(n_tokens * sizeof *p->tokens);
    test_tokens(p->tokens, n_tokens, seed);
    size_t n = 0; /* a first call with no room counts the chunks */
    kvs_chunk_keys(&p->ns, p->tokens, n_tokens, chunk_size, partial, NULL, 0, &n, NULL);
    p->n = n;
    p->keys = malloc((n ? n : 1) * sizeof *p->keys);
    p->reqs = malloc((n ? n : 1) * sizeof *p->reqs);
    assert_int_equal(kvs_chunk_keys(&p->ns, p->tokens, n_tokens, chunk_size, partial, p->keys,
                                    n, &n, NULL), KVS_OK);
    for (size_t i = 0; i < n; i++) {
        size_t start = i * chunk_size;
        uint32_t len = (uint32_t)(n_tokens - start < chunk_size ? n_tokens - start : chunk_size);
        p->reqs[i] = (kvs_chunk_request){.key = p->keys[i], .chunk_index = (uint32_t)i,
                                         .tokens = p->tokens + start, .n_tokens = len};
    }
}

static void prompt_free(prompt *p)
{
    free(p->tokens);
    free(p->keys);
    free(p->reqs);
}

static kvs_chunk *prompt_chunk(const prompt *p, size_t i)
{
    const kvs_key *parent = i == 0 ? &p->ns : &p->keys[i - 1];
    return test_chunk(&p->ns, parent, (uint32_t)i, p->reqs[i].tokens, p->reqs[i].n_tokens,
                      &p->layout, p->seed + i);
}

/* Puts chunks [from, to) and waits; returns the batch's loaded count. */
static size_t put_range(kvs_cache *c, const prompt *p, size_t from, size_t to)
{
    kvs_chunk *chunks[64];
    assert_true(to - from <= 64);
    for (size_t i = from; i < to; i++)
        chunks[i - from] = prompt_chunk(p, i);
    kvs_batch *b = NULL;
    kvs_error err;
    assert_int_equal(kvs_put_async(c, chunks, to - from, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, 30000), KVS_OK);
    assert_true(kvs_batch_done(b));
    assert_int_equal(kvs_batch_count(b), to - from);
    size_t loaded = kvs_batch_loaded(b);
    kvs_batch_free(b);
    return loaded;
}

static size_t lookup(kvs_cache *c, const prompt *p)
{
    size_t hit = 99999;
    kvs_error err;
    assert_int_equal(kvs_lookup(c, &p->ns, p->keys, p->n, &hit, &err), KVS_OK);
    return hit;
}

/* Gets every chunk of p, checks the loaded prefix bit for bit, returns its length. */
static size_t get_all(kvs_cache *c, const prompt *p)
{
    kvs_batch *b = NULL;
    kvs_error err;
    assert_int_equal(kvs_get_async(c, &p->ns, p->reqs, p->n, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, 30000), KVS_OK);
    size_t loaded = kvs_batch_loaded(b);
    for (size_t i = 0; i < loaded; i++) {
        kvs_chunk *ch = kvs_batch_chunk(b, i);
        assert_non_null(ch);
        assert_int_equal(kvs_batch_item_status(b, i), KVS_OK);
        assert_true(kvs_key_equal(&kvs_chunk_get_info(ch)->key, &p->keys[i]));
        assert_int_equal(kvs_chunk_get_info(ch)->n_tokens, p->reqs[i].n_tokens);
        test_check_payload(ch, p->seed + i);
    }
    assert_null(kvs_batch_chunk(b, loaded));
    if (loaded < p->n)
        assert_int_not_equal(kvs_batch_item_status(b, loaded), KVS_OK);
    kvs_batch_free(b);
    return loaded;
}

static kvs_cache *open_cache(const char *disk, uint64_t mem_bytes)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = mem_bytes > 0;
    cfg.max_local_cpu_size = mem_bytes;
    cfg.io_threads = 2;
    if (disk) {
        int n = snprintf(cfg.local_disk, sizeof cfg.local_disk, "file://%s", disk);
        assert_true(n > 0 && (size_t)n < sizeof cfg.local_disk);
        cfg.max_local_disk_size = 1ull << 30;
    }
    kvs_cache *c = NULL;
    kvs_error err;
    if (kvs_cache_open(&cfg, &c, &err) != KVS_OK)
        fail_msg("open: %s", err.msg);
    return c;
}

static void test_mem_round_trips(void **state)
{
    (void)state;
    const kvs_layout layouts[] = {
        {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8, .dtype = KVS_DTYPE_F16},
        {.n_layers = 4, .n_kv_heads = 1, .head_dim = 64, .dtype = KVS_DTYPE_F32},
        {.n_layers = 1, .n_kv_heads = 8, .head_dim = 128, .dtype = KVS_DTYPE_BF16},
    };
    const uint32_t sizes[] = {1, 16, 256};
    kvs_cache *c = open_cache(NULL, 1ull << 30);
    uint32_t seed = 1;
    for (size_t l = 0; l < 3; l++)
        for (size_t s = 0; s < 3; s++, seed++) {
            prompt p;
            prompt_init(&p, sizes[s], 3 * sizes[s] + (sizes[s] > 1 ? sizes[s] / 2 : 0),
                        &layouts[l], seed, true);
            assert_int_equal(lookup(c, &p), 0);
            assert_int_equal(get_all(c, &p), 0);
            assert_int_equal(put_range(c, &p, 0, p.n), p.n);
            assert_int_equal(lookup(c, &p), p.n);
            assert_int_equal(get_all(c, &p), p.n);
            prompt_free(&p);
        }
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_int_equal(st.n_tiers, 1);
    assert_string_equal(st.tiers[0].name, "mem");
    assert_true(st.lookups >= 18);
    assert_true(st.lookup_hit_chunks > 0 && st.lookup_miss_chunks > 0);
    assert_int_equal(st.dropped_puts, 0);
    kvs_cache_close(c);
}

static void test_lookup_prefix_with_gaps(void **state)
{
    (void)state;
    /* Memory answers exactly: chunks 0-2 and 4-5 make a prefix of 3. */
    kvs_cache *c = open_cache(NULL, 1ull << 30);
    prompt p;
    prompt_init(&p, 16, 16 * 8, &small_layout, 40, false);
    put_range(c, &p, 0, 3);
    put_range(c, &p, 4, 6);
    assert_int_equal(lookup(c, &p), 3);
    assert_int_equal(get_all(c, &p), 3);
    put_range(c, &p, 3, 4); /* fill the gap */
    assert_int_equal(lookup(c, &p), 6);
    assert_int_equal(get_all(c, &p), 6);
    prompt q = p; /* another namespace sees nothing */
    q.ns.b[2] ^= 1;
    assert_int_equal(lookup(c, &q), 0);
    kvs_cache_close(c);

    /* A file tier may binary-search, assuming presence is prefix-closed, and so may count
     * past a gap; the load then stops at the gap. */
    char dir[4096];
    test_mkdtemp(dir, "cache-gaps");
    c = open_cache(dir, 1ull << 30);
    put_range(c, &p, 0, 3);
    put_range(c, &p, 4, 6);
    assert_int_equal(kvs_cache_flush(c, -1, NULL), KVS_OK);
    assert_true(lookup(c, &p) >= 3);
    assert_int_equal(get_all(c, &p), 3);
    put_range(c, &p, 3, 4);
    assert_int_equal(kvs_cache_flush(c, -1, NULL), KVS_OK);
    assert_int_equal(lookup(c, &p), 6);
    /* Memory holds 2-5 only and the disk 0-1 only: together still the whole prefix. */
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(c->mem->methods->remove(c->mem, &p.ns, &p.keys[i], NULL), KVS_OK);
    kvs_tier *disk = c->tiers[c->local_disk];
    for (size_t i = 2; i < 6; i++)
        assert_int_equal(disk->methods->remove(disk, &p.ns, &p.keys[i], NULL), KVS_OK);
    assert_int_equal(disk->methods->contains_prefix(disk, &p.ns, p.keys, p.n), 2);
    assert_int_equal(c->mem->methods->contains_prefix(c->mem, &p.ns, p.keys, p.n), 0);
    assert_int_equal(lookup(c, &p), 6);
    assert_int_equal(get_all(c, &p), 6);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

/* Which tier a lookup credits each chunk to, and which tier served each item of a get. */
static void lookup_and_get_tiers(kvs_cache *c, const prompt *p, uint8_t *looked, int *served)
{
    size_t hit = 0;
    kvs_error err;
    assert_int_equal(kvs_lookup_tiers(c, &p->ns, p->keys, p->n, looked, &hit, &err), KVS_OK);
    assert_int_equal(hit, p->n);
    kvs_batch *b = NULL;
    assert_int_equal(kvs_get_async(c, &p->ns, p->reqs, p->n, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, 30000), KVS_OK);
    assert_int_equal(kvs_batch_loaded(b), p->n);
    for (size_t i = 0; i < p->n; i++)
        served[i] = kvs_batch_item_tier(b, i);
    assert_int_equal(kvs_batch_item_tier(b, p->n), -1);
    kvs_batch_free(b);
}

static void test_lookup_and_get_name_tiers(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-tiers");
    kvs_cache *c = open_cache(dir, 1ull << 30);
    prompt p;
    prompt_init(&p, 16, 16 * 4, &small_layout, 48, false);
    kvs_chunk *one = prompt_chunk(&p, 0);
    kvs_batch *put = NULL;
    assert_int_equal(kvs_put_async(c, &one, 1, &put, NULL), KVS_OK);
    assert_int_equal(kvs_batch_wait(put, 30000), KVS_OK);
    assert_int_equal(kvs_batch_item_tier(put, 0), -1); /* a put batch serves nothing */
    kvs_batch_free(put);
    put_range(c, &p, 1, p.n);
    assert_int_equal(kvs_cache_flush(c, -1, NULL), KVS_OK);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_string_equal(st.tiers[0].name, "mem");
    assert_string_equal(st.tiers[1].name, "local_disk");
    uint8_t looked[4];
    int served[4];
    lookup_and_get_tiers(c, &p, looked, served);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(looked[i], 0);
        assert_int_equal(served[i], 0);
    }
    /* Memory lost chunk 1: the disk answers for 1-3, memory still has 2-3. */
    assert_int_equal(c->mem->methods->remove(c->mem, &p.ns, &p.keys[1], NULL), KVS_OK);
    lookup_and_get_tiers(c, &p, looked, served);
    const int want[4] = {0, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(looked[i], want[i]);
        assert_int_equal(served[i], want[i]);
    }
    /* That get promoted chunk 1: memory serves everything again. */
    lookup_and_get_tiers(c, &p, looked, served);
    for (int i = 0; i < 4; i++)
        assert_int_equal(served[i], 0);
    /* Without memory, the disk; a missing chunk is no tier. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(c->mem->methods->remove(c->mem, &p.ns, &p.keys[i], NULL), KVS_OK);
    lookup_and_get_tiers(c, &p, looked, served);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(looked[i], 1);
        assert_int_equal(served[i], 1);
    }
    assert_int_equal(kvs_remove(c, &p.ns, &p.keys[0], NULL), KVS_OK);
    kvs_batch *b = NULL;
    assert_int_equal(kvs_get_async(c, &p.ns, p.reqs, 1, &b, NULL), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, 30000), KVS_OK);
    assert_int_equal(kvs_batch_item_tier(b, 0), -1);
    kvs_batch_free(b);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

static void test_restart_promotes_from_disk(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-restart");
    prompt p;
    prompt_init(&p, 32, 32 * 5 + 7, &small_layout, 41, true);
    kvs_cache *c = open_cache(dir, 1ull << 30);
    assert_int_equal(put_range(c, &p, 0, p.n), p.n);
    kvs_cache_close(c); /* close flushes */

    c = open_cache(dir, 1ull << 30);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_int_equal(st.n_tiers, 2);
    assert_string_equal(st.tiers[1].name, "local_disk");
    assert_int_equal(st.tiers[0].objects, 0);
    assert_int_equal(lookup(c, &p), p.n);
    assert_int_equal(get_all(c, &p), p.n);
    kvs_cache_stats(c, &st);
    assert_int_equal(st.tiers[0].objects, p.n); /* promoted */
    uint64_t mem_hits = st.tiers[0].hits;
    assert_int_equal(get_all(c, &p), p.n);
    kvs_cache_stats(c, &st);
    assert_int_equal(st.tiers[0].hits, mem_hits + p.n); /* served from memory now */
    kvs_cache_close(c);

    /* Without a mem tier the disk serves directly. */
    c = open_cache(dir, 0);
    kvs_cache_stats(c, &st);
    assert_int_equal(st.n_tiers, 1);
    assert_int_equal(get_all(c, &p), p.n);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

/* A hit in the shared directory (gds) is copied to memory and to the local disk. */
static void test_promotes_shared_to_local_disk(void **state)
{
    (void)state;
    char shared[4096], local[4096];
    test_mkdtemp(shared, "cache-shared");
    test_mkdtemp(local, "cache-local");
    prompt p;
    prompt_init(&p, 16, 16 * 3, &small_layout, 47, false);
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = false;
    snprintf(cfg.gds_path, sizeof cfg.gds_path, "%s", shared);
    cfg.io_threads = 2;
    kvs_cache *c = NULL;
    kvs_error err;
    assert_int_equal(kvs_cache_open(&cfg, &c, &err), KVS_OK); /* another node */
    assert_int_equal(put_range(c, &p, 0, p.n), p.n);
    kvs_cache_close(c);

    cfg.local_cpu = true;
    cfg.max_local_cpu_size = 1ull << 30;
    snprintf(cfg.local_disk, sizeof cfg.local_disk, "%s", local);
    cfg.max_local_disk_size = 1ull << 30;
    if (kvs_cache_open(&cfg, &c, &err) != KVS_OK)
        fail_msg("%s", err.msg);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_int_equal(st.n_tiers, 3);
    assert_string_equal(st.tiers[2].name, "gds");
    kvs_tier *disk = c->tiers[c->local_disk];
    assert_int_equal(disk->methods->contains_prefix(disk, &p.ns, p.keys, p.n), 0);
    assert_int_equal(get_all(c, &p), p.n);
    assert_int_equal(kvs_cache_flush(c, -1, &err), KVS_OK);
    assert_int_equal(c->mem->methods->contains_prefix(c->mem, &p.ns, p.keys, p.n), p.n);
    assert_int_equal(disk->methods->contains_prefix(disk, &p.ns, p.keys, p.n), p.n);
    kvs_cache_close(c);

    cfg.local_cpu = false; /* the local disk alone now serves the prompt */
    cfg.gds_path[0] = '\0';
    assert_int_equal(kvs_cache_open(&cfg, &c, &err), KVS_OK);
    assert_int_equal(get_all(c, &p), p.n);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(shared);
    test_rmtree(local);
}

/* A tier wrapped to be slow and to count its loads, to make the single-flight window wide. */
typedef struct slow_tier {
    kvs_tier base;
    kvs_tier *inner;
    atomic_uint loads;
} slow_tier;

static size_t slow_contains(kvs_tier *t, const kvs_key *ns, const kvs_key *keys, size_t n)
{
    kvs_tier *in = ((slow_tier *)t)->inner;
    return in->methods->contains_prefix(in, ns, keys, n);
}

static void slow_get(kvs_tier *t, const kvs_key *ns, const kvs_chunk_request *reqs, size_t n,
                     kvs_chunk **out, kvs_status *status)
{
    slow_tier *s = (slow_tier *)t;
    nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
    atomic_fetch_add(&s->loads, (unsigned)n);
    s->inner->methods->get(s->inner, ns, reqs, n, out, status);
}

static void slow_put(kvs_tier *t, kvs_chunk *const *chunks, size_t n, kvs_status *status)
{
    kvs_tier *in = ((slow_tier *)t)->inner;
    in->methods->put(in, chunks, n, status);
}

static kvs_status slow_remove(kvs_tier *t, const kvs_key *ns, const kvs_key *key, kvs_error *err)
{
    kvs_tier *in = ((slow_tier *)t)->inner;
    return in->methods->remove(in, ns, key, err);
}

static void slow_stats(kvs_tier *t, kvs_tier_stats *out)
{
    kvs_tier *in = ((slow_tier *)t)->inner;
    in->methods->stats(in, out);
}

static void slow_close(kvs_tier *t)
{
    slow_tier *s = (slow_tier *)t;
    s->inner->methods->close(s->inner);
    kvs_tier_base_destroy(&s->base);
    free(s);
}

static const kvs_tier_methods slow_methods = {slow_contains, slow_get, slow_put,
                                              slow_remove, slow_stats, slow_close};

typedef struct getter {
    kvs_cache *cache;
    const prompt *p;
    pthread_barrier_t *start;
    size_t loaded;
} getter;

static void *get_thread(void *arg)
{
    getter *g = arg;
    pthread_barrier_wait(g->start);
    kvs_batch *b = NULL;
    if (kvs_get_async(g->cache, &g->p->ns, g->p->reqs, g->p->n, &b, NULL) != KVS_OK)
        return NULL;
    kvs_batch_wait(b, -1);
    g->loaded = kvs_batch_loaded(b);
    for (size_t i = 0; i < g->loaded; i++) {
        const kvs_chunk *ch = kvs_batch_chunk(b, i);
        kvs_chunk *want = prompt_chunk(g->p, i);
        if (memcmp(kvs_chunk_payload(ch), kvs_chunk_payload(want),
                   kvs_chunk_get_info(ch)->payload_size) != 0)
            g->loaded = 0;
        kvs_chunk_release(want);
    }
    kvs_batch_free(b);
    return NULL;
}

static void test_single_flight(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-flight");
    prompt p;
    prompt_init(&p, 16, 16 * 6, &small_layout, 42, false);
    kvs_cache *c = open_cache(dir, 0);
    assert_int_equal(put_range(c, &p, 0, p.n), p.n);
    kvs_cache_close(c);

    c = open_cache(dir, 1ull << 30);
    slow_tier *slow = calloc(1, sizeof *slow);
    kvs_tier_base_init(&slow->base, &slow_methods, "local_disk");
    slow->inner = c->tiers[1];
    c->tiers[1] = &slow->base;

    enum { THREADS = 8 };
    pthread_t th[THREADS];
    getter g[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        g[i] = (getter){.cache = c, .p = &p, .start = &start};
        pthread_create(&th[i], NULL, get_thread, &g[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].loaded, p.n);
    }
    pthread_barrier_destroy(&start);
    /* Each chunk came off the disk once; the other requests joined or found it in memory. */
    assert_int_equal(atomic_load(&slow->loads), p.n);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_true(st.single_flight_joins > 0);
    assert_int_equal(st.gets, THREADS * p.n);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

static void test_write_budget_drops(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-budget");
    prompt p;
    prompt_init(&p, 16, 16 * 10, &small_layout, 43, false);
    kvs_chunk *probe = prompt_chunk(&p, 0);
    kvs_object_seal(probe);
    uint64_t one = probe->total_size;
    kvs_chunk_release(probe);

    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.max_local_cpu_size = 1ull << 30;
    snprintf(cfg.local_disk, sizeof cfg.local_disk, "%s", dir);
    cfg.max_local_disk_size = 1ull << 30;
    cfg.max_write_queue_size = one + one / 2; /* room for one chunk in the queue */
    cfg.io_threads = 1;
    kvs_cache *c = NULL;
    kvs_error err;
    assert_int_equal(kvs_cache_open(&cfg, &c, &err), KVS_OK);
    kvs_chunk *chunks[10];
    for (size_t i = 0; i < 10; i++)
        chunks[i] = prompt_chunk(&p, i);
    kvs_batch *b = NULL;
    assert_int_equal(kvs_put_async(c, chunks, 10, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    assert_int_equal(kvs_batch_item_status(b, 0), KVS_OK);
    for (size_t i = 1; i < 10; i++)
        assert_int_equal(kvs_batch_item_status(b, i), KVS_ERR_DROPPED);
    assert_int_equal(kvs_batch_loaded(b), 10); /* all in memory */
    kvs_batch_free(b);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_int_equal(st.dropped_puts, 9);
    assert_int_equal(st.puts, 10);
    assert_int_equal(lookup(c, &p), 10);
    assert_int_equal(kvs_cache_flush(c, -1, &err), KVS_OK);
    kvs_cache_stats(c, &st);
    assert_int_equal(st.write_queue_bytes, 0);
    kvs_cache_close(c);
    /* Only chunk 0 reached the disk. */
    c = open_cache(dir, 0);
    assert_int_equal(lookup(c, &p), 1);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

static void test_remove_and_flush(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-remove");
    prompt p;
    prompt_init(&p, 16, 16 * 4, &small_layout, 44, false);
    kvs_cache *c = open_cache(dir, 1ull << 30);
    kvs_chunk *chunks[4];
    for (size_t i = 0; i < 4; i++)
        chunks[i] = prompt_chunk(&p, i);
    assert_int_equal(kvs_put_async(c, chunks, 4, NULL, NULL), KVS_OK); /* not waited for */
    kvs_error err;
    assert_int_equal(kvs_cache_flush(c, -1, &err), KVS_OK);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_int_equal(st.write_queue_bytes, 0);
    assert_int_equal(st.tiers[1].objects == 0 ? 4 : st.tiers[1].objects, 4);
    assert_int_equal(lookup(c, &p), 4);
    assert_int_equal(kvs_remove(c, &p.ns, &p.keys[2], &err), KVS_OK);
    assert_int_equal(kvs_remove(c, &p.ns, &p.keys[2], &err), KVS_OK); /* absent is fine */
    assert_int_equal(lookup(c, &p), 2);
    assert_int_equal(get_all(c, &p), 2);
    kvs_cache_close(c);
    c = open_cache(dir, 1ull << 30); /* gone from the disk too */
    assert_int_equal(lookup(c, &p), 2);
    kvs_cache_close(c);
    prompt_free(&p);
    test_rmtree(dir);
}

static void test_close_with_work_queued(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-close");
    prompt p;
    prompt_init(&p, 64, 64 * 32, &small_layout, 45, false);
    kvs_cache *c = open_cache(dir, 1ull << 30);
    kvs_batch *puts[4];
    for (size_t k = 0; k < 4; k++) {
        kvs_chunk *chunks[8];
        for (size_t i = 0; i < 8; i++)
            chunks[i] = prompt_chunk(&p, k * 8 + i);
        assert_int_equal(kvs_put_async(c, chunks, 8, &puts[k], NULL), KVS_OK);
    }
    kvs_batch *get = NULL;
    assert_int_equal(kvs_get_async(c, &p.ns, p.reqs, p.n, &get, NULL), KVS_OK);
    kvs_cache_close(c); /* batches outlive the cache */
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(kvs_batch_wait(puts[k], 0), KVS_OK);
        for (size_t i = 0; i < 8; i++) {
            kvs_status s = kvs_batch_item_status(puts[k], i);
            assert_true(s == KVS_OK || s == KVS_ERR_CLOSED);
        }
        kvs_batch_free(puts[k]);
    }
    assert_true(kvs_batch_done(get));
    kvs_batch_free(get);
    prompt_free(&p);
    test_rmtree(dir);
}

static void test_disk_goes_away(void **state)
{
    (void)state;
    char dir[4096];
    test_mkdtemp(dir, "cache-vanish");
    prompt p;
    prompt_init(&p, 16, 16 * 6, &small_layout, 46, false);
    kvs_cache *c = open_cache(dir, 1ull << 30);
    put_range(c, &p, 0, 2);
    assert_int_equal(kvs_cache_flush(c, -1, NULL), KVS_OK);
    /* The directory vanishes and a file takes its place: nothing can be created there. */
    test_rmtree(dir);
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    kvs_chunk *chunks[4];
    for (size_t i = 0; i < 4; i++)
        chunks[i] = prompt_chunk(&p, 2 + i);
    kvs_batch *b = NULL;
    assert_int_equal(kvs_put_async(c, chunks, 4, &b, NULL), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    for (size_t i = 0; i < 4; i++) {
        kvs_status s = kvs_batch_item_status(b, i);
        assert_true(s != KVS_OK && s != KVS_ERR_DROPPED); /* the disk refused */
    }
    assert_int_equal(kvs_batch_loaded(b), 4); /* memory took them */
    kvs_batch_free(b);
    assert_int_equal(lookup(c, &p), 6);
    assert_int_equal(get_all(c, &p), 6);
    /* Out of memory, the old disk chunks are gone: a miss, not a crash. (The disk tier's
     * index may still claim them; the load is what counts.) */
    for (size_t i = 0; i < 6; i++)
        c->mem->methods->remove(c->mem, &p.ns, &p.keys[i], NULL);
    assert_true(lookup(c, &p) <= 2);
    assert_int_equal(get_all(c, &p), 0);
    kvs_stats st;
    kvs_cache_stats(c, &st);
    assert_true(st.tiers[1].put_errors >= 4 || st.tiers[1].last_error[0]);
    kvs_cache_close(c);
    unlink(dir);

    /* Read-only (meaningful only without root, which ignores permissions). */
    if (geteuid() != 0) {
        test_mkdtemp(dir, "cache-readonly");
        c = open_cache(dir, 1ull << 30);
        chmod(dir, 0500);
        kvs_chunk *one = prompt_chunk(&p, 0);
        assert_int_equal(kvs_put_async(c, &one, 1, &b, NULL), KVS_OK);
        kvs_batch_wait(b, -1);
        assert_int_not_equal(kvs_batch_item_status(b, 0), KVS_OK);
        assert_int_equal(kvs_batch_loaded(b), 1);
        kvs_batch_free(b);
        assert_int_equal(get_all(c, &p), 1);
        kvs_cache_close(c);
        test_rmtree(dir);
    }
    prompt_free(&p);
}

static void test_open_errors(void **state)
{
    (void)state;
    char dir[4096], file[4096];
    test_mkdtemp(dir, "cache-open");
    test_path(file, dir, "not-a-dir");
    FILE *f = fopen(file, "w");
    fclose(f);
    kvs_config cfg;
    kvs_config_init(&cfg);
    snprintf(cfg.local_disk, sizeof cfg.local_disk, "%.4000s/sub", file);
    cfg.max_local_disk_size = 1ull << 30;
    kvs_cache *c = (kvs_cache *)1;
    kvs_error err;
    assert_int_not_equal(kvs_cache_open(&cfg, &c, &err), KVS_OK);
    assert_null(c);
    assert_non_null(strstr(err.msg, file));
    kvs_config_init(&cfg);
    cfg.io_threads = 0;
    assert_int_equal(kvs_cache_open(&cfg, &c, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "io_threads"));
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_round_trips),
        cmocka_unit_test(test_lookup_prefix_with_gaps),
        cmocka_unit_test(test_lookup_and_get_name_tiers),
        cmocka_unit_test(test_restart_promotes_from_disk),
        cmocka_unit_test(test_promotes_shared_to_local_disk),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_write_budget_drops),
        cmocka_unit_test(test_remove_and_flush),
        cmocka_unit_test(test_close_with_work_queued),
        cmocka_unit_test(test_disk_goes_away),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
