/* The connector on a backend whose KV transfers complete later than they are queued (as a
 * GPU's do): gathered chunks reach the cache only once their fence is done, at a tick;
 * a load scatters the stored bytes into another sequence's blocks exactly; and at
 * shutdown the connector waits for the transfers still reading or filling payloads. The
 * test backend copies at once (the CPU backend underneath) and only reports its fences
 * done when the test says so. */
#include <stdlib.h>
#include <string.h>

#include "engine/connector.h"
#include "engine/kv_paged.h"
#include "model/backend.h"
#include "model_fixture.h"

#define CHUNK 16
#define N_TOKENS (3 * CHUNK)

typedef struct late_backend {
    backend base;
    backend *cpu;
    uint64_t issued;   /* the last fence returned */
    uint64_t released; /* fences up to this one are done */
    unsigned waits;    /* wait calls on a fence not yet done */
} late_backend;

static backend *inner(backend *b) { return ((late_backend *)b)->cpu; }

static void *late_kv_alloc(backend *b, size_t bytes)
{
    return inner(b)->ops->kv_alloc(inner(b), bytes);
}

static void late_kv_free(backend *b, void *p, size_t bytes)
{
    inner(b)->ops->kv_free(inner(b), p, bytes);
}

static int late_eval(backend *b, kv_cache *kv, const fwd_batch *batch, float *logits,
                     model_error *err)
{
    return inner(b)->ops->eval(inner(b), kv, batch, logits, err);
}

static int late_kv_transfer(backend *b, kv_cache *kv, const kv_xfer *x, size_t n,
                            uint64_t *fence, model_error *err)
{
    late_backend *l = (late_backend *)b;
    uint64_t ignored;
    if (inner(b)->ops->kv_transfer(inner(b), kv, x, n, &ignored, err) != 0)
        return -1;
    *fence = ++l->issued;
    return 0;
}

static bool late_done(backend *b, uint64_t fence)
{
    return fence <= ((late_backend *)b)->released;
}

static int late_wait(backend *b, uint64_t fence, model_error *err)
{
    late_backend *l = (late_backend *)b;
    if (fence > l->released) {
        l->waits++;
        l->released = fence;
    }
    return 0;
}

static void late_destroy(backend *b)
{
    backend_destroy(inner(b));
    free(b);
}

static const backend_ops late_ops = {
    .kv_alloc = late_kv_alloc,
    .kv_free = late_kv_free,
    .eval = late_eval,
    .kv_transfer = late_kv_transfer,
    .done = late_done,
    .wait = late_wait,
    .destroy = late_destroy,
};

static late_backend *late_backend_new(const model *m)
{
    late_backend *l = calloc(1, sizeof *l);
    assert_non_null(l);
    model_error err = {{0}};
    if (backend_create(BACKEND_CPU, m, 1, NULL, &l->cpu, &err) != 0)
        fail_msg("%s", err.msg);
    l->base = (backend){&late_ops, BACKEND_CPU, m, "late cpu"};
    return l;
}

static uint64_t puts_so_far(connector *c)
{
    engine_stats st;
    memset(&st, 0, sizeof st);
    connector_stats(c, &st);
    return st.offload.puts;
}

/* Random K/V rows in the blocks holding positions [0, n) of seq. */
static void fill_blocks(kv_paged *p, uint32_t seq, uint32_t n)
{
    kv_cache *kv = kv_paged_cache(p);
    size_t bytes = kv->block_tokens * kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    const uint32_t *table = kv_paged_seq_table(p, seq);
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (uint32_t i = 0; i < n / kv->block_tokens; i++) {
            test_fill_random(kv->ops->k_block(kv, l, table[i]), bytes, 2 * (l * 64 + i));
            test_fill_random(kv->ops->v_block(kv, l, table[i]), bytes, 2 * (l * 64 + i) + 1);
        }
}

static void assert_same_blocks(kv_paged *p, uint32_t a, uint32_t b, uint32_t n)
{
    kv_cache *kv = kv_paged_cache(p);
    size_t bytes = kv->block_tokens * kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    const uint32_t *ta = kv_paged_seq_table(p, a), *tb = kv_paged_seq_table(p, b);
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (uint32_t i = 0; i < n / kv->block_tokens; i++) {
            assert_int_not_equal(ta[i], tb[i]);
            assert_memory_equal(kv->ops->k_block(kv, l, ta[i]), kv->ops->k_block(kv, l, tb[i]),
                                bytes);
            assert_memory_equal(kv->ops->v_block(kv, l, ta[i]), kv->ops->v_block(kv, l, tb[i]),
                                bytes);
        }
}

/* A connector (mem tier only) over a late backend and a paged cache of 2 sequences. */
typedef struct fence_setup {
    fixture_model fm;
    late_backend *be;
    kv_paged *kv;
    kvs_config kc;
    connector *c;
    load_est est; /* the engine's estimate, which the connector plans with */
} fence_setup;

static void fence_setup_open(fence_setup *f)
{
    fixture_load(&f->fm, "tiny-f16");
    const model_hparams *hp = &f->fm.m->hp;
    f->be = late_backend_new(f->fm.m);
    engine_error err = {{0}};
    assert_int_equal(kv_paged_create(&f->be->base, hp->n_layer, hp->n_head_kv, hp->head_dim,
                                     KV_F16, 1u << 20, 2, 8, &f->kv, &err), 0);
    kvs_config_init(&f->kc);
    f->kc.max_local_cpu_size = 16ull << 20;
    engine_config cfg;
    engine_config_init(&cfg);
    cfg.kv_role = ENGINE_KV_BOTH;
    cfg.offload = &f->kc;
    cfg.chunk_size = CHUNK;
    cfg.offload_always_load = true;
    kvs_layout layout = {hp->n_layer, hp->n_head_kv, hp->head_dim, KVS_DTYPE_F16};
    assert_int_equal(connector_create(&cfg, &f->be->base, f->kv, &layout, &f->est, &f->c, &err), 0);
}

/* Destroys the connector (if still there), the cache, the backend and the model. */
static void fence_setup_close(fence_setup *f)
{
    connector_destroy(f->c);
    kv_cache_destroy(kv_paged_cache(f->kv));
    backend_destroy(&f->be->base);
    fixture_free(&f->fm);
}

static void test_fenced_store_and_load(void **state)
{
    (void)state;
    fence_setup f;
    fence_setup_open(&f);
    late_backend *be = f.be;
    kv_paged *kv = f.kv;
    connector *c = f.c;
    engine_error err = {{0}};

    kvs_key ns;
    memset(&ns, 7, sizeof ns);
    int32_t tokens[N_TOKENS + 1];
    for (int i = 0; i <= N_TOKENS; i++)
        tokens[i] = 5 + i;
    uint32_t end;

    /* Sequence 0 computed its prompt: the gathers are queued, not yet done. */
    conn_seq stored = {0};
    connector_admit(c, &stored, &ns, tokens, N_TOKENS, 0, &end);
    assert_int_equal(end, 0);
    assert_int_equal(kv_paged_seq_reserve(kv, 0, N_TOKENS, &err), 0);
    fill_blocks(kv, 0, N_TOKENS);
    connector_store(c, &stored, &ns, 0, tokens, N_TOKENS, N_TOKENS);
    connector_tick(c);
    assert_int_equal(puts_so_far(c), 0);
    be->released = be->issued;
    connector_tick(c);
    assert_int_equal(puts_so_far(c), N_TOKENS / CHUNK);

    /* Sequence 1, the same prompt and one token more, loads them; its scatter's fences
     * stay pending, so its batches are held until shutdown waits for them. */
    conn_seq loading = {0};
    connector_admit(c, &loading, &ns, tokens, N_TOKENS + 1, 0, &end);
    assert_int_equal(end, N_TOKENS);
    assert_int_equal(kv_paged_seq_reserve(kv, 1, N_TOKENS + 1, &err), 0);
    uint32_t loaded = 0;
    while (!connector_poll(c, &loading, 1, 1000, &loaded))
        ;
    assert_int_equal(loaded, N_TOKENS);
    assert_same_blocks(kv, 0, 1, N_TOKENS);
    assert_true(be->issued > be->released);
    connector_tick(c);
    assert_int_equal(be->waits, 0);

    /* A store whose gather is still running at shutdown is waited for. */
    conn_seq again = {0};
    tokens[0] = 4;
    connector_admit(c, &again, &ns, tokens, N_TOKENS, 0, &end);
    connector_store(c, &again, &ns, 0, tokens, N_TOKENS, N_TOKENS);
    assert_int_equal(puts_so_far(c), N_TOKENS / CHUNK);
    connector_destroy(c);
    f.c = NULL;
    assert_int_equal(be->waits, 1); /* the last fence: the gather's */
    assert_int_equal(be->released, be->issued);

    free(stored.keys);
    free(stored.tier_of);
    free(loading.keys);
    free(loading.tier_of);
    free(again.keys);
    free(again.tier_of);
    fence_setup_close(&f);
}

/* A sequence that ends while the gathers of its chunks still run does not give its blocks
 * back until they are done: a step could otherwise overwrite what is being copied. */
static void test_gathered_blocks_held(void **state)
{
    (void)state;
    fence_setup f;
    fence_setup_open(&f);
    engine_error err = {{0}};
    kvs_key ns;
    memset(&ns, 9, sizeof ns);
    int32_t tokens[N_TOKENS];
    for (int i = 0; i < N_TOKENS; i++)
        tokens[i] = 40 + i;
    uint32_t end, total = kv_paged_n_blocks(f.kv), n_blk = N_TOKENS / KV_PAGED_BLOCK;
    conn_seq cs = {0};
    connector_admit(f.c, &cs, &ns, tokens, N_TOKENS, 0, &end);
    assert_int_equal(kv_paged_seq_reserve(f.kv, 0, N_TOKENS, &err), 0);
    fill_blocks(f.kv, 0, N_TOKENS);
    uint32_t blocks[N_TOKENS / KV_PAGED_BLOCK];
    memcpy(blocks, kv_paged_seq_table(f.kv, 0), sizeof blocks);
    connector_store(f.c, &cs, &ns, 0, tokens, N_TOKENS, N_TOKENS);
    connector_seq_reset(f.c, &cs);
    kv_paged_seq_free(f.kv, 0);
    assert_int_equal(kv_paged_n_free(f.kv), total - n_blk);
    for (uint32_t i = 0; i < n_blk; i++)
        assert_int_equal(kv_paged_refcount(f.kv, blocks[i]), 1);
    connector_tick(f.c);
    assert_int_equal(kv_paged_n_free(f.kv), total - n_blk);

    f.be->released = f.be->issued;
    connector_tick(f.c);
    assert_int_equal(puts_so_far(f.c), N_TOKENS / CHUNK);
    assert_int_equal(kv_paged_n_free(f.kv), total);
    for (uint32_t i = 0; i < n_blk; i++)
        assert_int_equal(kv_paged_refcount(f.kv, blocks[i]), 0);
    free(cs.keys);
    free(cs.tier_of);
    fence_setup_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fenced_store_and_load),
        cmocka_unit_test(test_gathered_blocks_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
