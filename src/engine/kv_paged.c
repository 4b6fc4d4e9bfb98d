/* Paged KV cache: the block pool, reference counts, the LRU free list (a doubly linked
 * list through per-block prev/next indices) and the per-sequence block tables. */
#include "engine/kv_paged.h"

#include <stdlib.h>
#include <string.h>

#include "model/kv_pool_mem.h"

struct kv_paged {
    kv_cache base;
    backend *be;        /* whose memory k and v are; NULL: host */
    uint32_t n_blocks, n_free;
    size_t block_bytes; /* one layer's K (or V) rows of one block */
    uint8_t *k, *v;     /* [layer][block][block_bytes] */
    uint32_t *refs;
    uint32_t *prev, *next; /* free list links */
    uint32_t head, tail;   /* head: least recently freed */
    uint32_t n_seq, max_blocks;
    uint32_t *tables;      /* [n_seq][max_blocks] */
    uint32_t *lens;        /* blocks per sequence */
    kv_paged_evict_fn evict;
    void *evict_user;
};

static void list_remove(kv_paged *p, uint32_t b)
{
    if (p->prev[b] != KV_PAGED_NONE)
        p->next[p->prev[b]] = p->next[b];
    else
        p->head = p->next[b];
    if (p->next[b] != KV_PAGED_NONE)
        p->prev[p->next[b]] = p->prev[b];
    else
        p->tail = p->prev[b];
    p->prev[b] = p->next[b] = KV_PAGED_NONE;
    p->n_free--;
}

static void list_push_tail(kv_paged *p, uint32_t b)
{
    p->prev[b] = p->tail;
    p->next[b] = KV_PAGED_NONE;
    if (p->tail != KV_PAGED_NONE)
        p->next[p->tail] = b;
    else
        p->head = b;
    p->tail = b;
    p->n_free++;
}

uint32_t kv_paged_alloc(kv_paged *p)
{
    uint32_t b = p->head;
    if (b == KV_PAGED_NONE)
        return b;
    list_remove(p, b);
    if (p->evict)
        p->evict(p->evict_user, b);
    p->refs[b] = 1;
    return b;
}

void kv_paged_ref(kv_paged *p, uint32_t block)
{
    if (p->refs[block]++ == 0)
        list_remove(p, block);
}

void kv_paged_unref(kv_paged *p, uint32_t block)
{
    if (--p->refs[block] == 0)
        list_push_tail(p, block);
}

int kv_paged_seq_append(kv_paged *p, uint32_t seq, uint32_t block, engine_error *err)
{
    if (seq >= p->n_seq)
        return engine_fail(err, "paged kv cache: sequence %u out of range (%u slots)", seq,
                          p->n_seq);
    if (p->lens[seq] >= p->max_blocks)
        return engine_fail(err, "paged kv cache: sequence %u: more than %u blocks", seq,
                          p->max_blocks);
    p->tables[(size_t)seq * p->max_blocks + p->lens[seq]++] = block;
    return 0;
}

uint32_t kv_paged_seq_len(const kv_paged *p, uint32_t seq) { return p->lens[seq]; }

const uint32_t *kv_paged_seq_table(const kv_paged *p, uint32_t seq)
{
    return p->tables + (size_t)seq * p->max_blocks;
}

int kv_paged_seq_reserve(kv_paged *p, uint32_t seq, uint32_t n_pos, engine_error *err)
{
    if (seq >= p->n_seq)
        return engine_fail(err, "paged kv cache: sequence %u out of range (%u slots)", seq,
                          p->n_seq);
    uint32_t need = (n_pos + KV_PAGED_BLOCK - 1) / KV_PAGED_BLOCK, had = p->lens[seq];
    if (need > p->max_blocks)
        return engine_fail(err, "paged kv cache: sequence %u: %u positions exceed %u blocks",
                          seq, n_pos, p->max_blocks);
    if (need <= had)
        return 0;
    if (need - had > p->n_free)
        return engine_fail(err, "paged kv cache: sequence %u: %u more blocks needed, %u free",
                          seq, need - had, p->n_free);
    while (p->lens[seq] < need)
        p->tables[(size_t)seq * p->max_blocks + p->lens[seq]++] = kv_paged_alloc(p);
    return 0;
}

void kv_paged_seq_free(kv_paged *p, uint32_t seq)
{
    const uint32_t *t = kv_paged_seq_table(p, seq);
    /* Last block first: the tail of a sequence is the least likely to be shared again, so
     * it should be the first reused. */
    for (uint32_t i = p->lens[seq]; i-- > 0;)
        kv_paged_unref(p, t[i]);
    p->lens[seq] = 0;
}

/* The kv_cache operation speaks the model's convention. */
static int paged_reserve(kv_cache *kv, uint32_t seq, uint32_t n_pos, model_error *err)
{
    engine_error eerr;
    if (kv_paged_seq_reserve((kv_paged *)kv, seq, n_pos, &eerr) != 0)
        return model_fail(err, "%s", eerr.msg);
    return 0;
}

static const uint32_t *paged_table(kv_cache *kv, uint32_t seq)
{
    return kv_paged_seq_table((kv_paged *)kv, seq);
}

static void *paged_k(kv_cache *kv, uint32_t layer, uint32_t block)
{
    kv_paged *p = (kv_paged *)kv;
    return p->k + ((size_t)layer * p->n_blocks + block) * p->block_bytes;
}

static void *paged_v(kv_cache *kv, uint32_t layer, uint32_t block)
{
    kv_paged *p = (kv_paged *)kv;
    return p->v + ((size_t)layer * p->n_blocks + block) * p->block_bytes;
}

static void paged_destroy(kv_cache *kv)
{
    kv_paged *p = (kv_paged *)kv;
    if (!p)
        return;
    size_t total = (size_t)p->n_blocks * p->base.n_layer * p->block_bytes;
    kv_pool_free_in(p->be, p->k, total);
    kv_pool_free_in(p->be, p->v, total);
    free(p->refs);
    free(p->prev);
    free(p->next);
    free(p->tables);
    free(p->lens);
    free(p);
}

static const kv_cache_ops paged_ops = {
    .reserve = paged_reserve,
    .block_table = paged_table,
    .k_block = paged_k,
    .v_block = paged_v,
    .destroy = paged_destroy,
};

int kv_paged_create(backend *be, uint32_t n_layer, uint32_t n_kv_heads, uint32_t head_dim,
                    kv_dtype dtype, uint64_t bytes, uint32_t n_seq, uint32_t max_blocks_per_seq,
                    kv_paged **out, engine_error *err)
{
    *out = NULL;
    if (!n_layer || !n_kv_heads || !head_dim || !n_seq || !max_blocks_per_seq)
        return engine_fail(err, "paged kv cache: zero-sized dimension");
    kv_paged *p = calloc(1, sizeof *p);
    if (!p)
        return engine_fail(err, "paged kv cache: out of memory");
    p->base = (kv_cache){&paged_ops, dtype, KV_PAGED_BLOCK, n_layer, n_kv_heads, head_dim};
    p->be = be;
    p->block_bytes = KV_PAGED_BLOCK * kv_row_elems(&p->base) * kv_dtype_size(dtype);
    uint64_t per_block = 2ull * n_layer * p->block_bytes;
    uint64_t n = bytes / per_block;
    if (n == 0)
        n = 1;
    if (n >= KV_PAGED_NONE)
        n = KV_PAGED_NONE - 1;
    p->n_blocks = (uint32_t)n;
    p->n_seq = n_seq;
    p->max_blocks = max_blocks_per_seq;
    size_t total = (size_t)n * n_layer * p->block_bytes;
    p->k = kv_pool_alloc_in(be, total);
    p->v = kv_pool_alloc_in(be, total);
    p->refs = calloc(n, sizeof *p->refs);
    p->prev = malloc(n * sizeof *p->prev);
    p->next = malloc(n * sizeof *p->next);
    p->tables = malloc((size_t)n_seq * max_blocks_per_seq * sizeof *p->tables);
    p->lens = calloc(n_seq, sizeof *p->lens);
    if (!p->k || !p->v || !p->refs || !p->prev || !p->next || !p->tables || !p->lens) {
        paged_destroy(&p->base);
        return engine_fail(err, "paged kv cache: cannot allocate %u blocks (2 × %zu bytes)",
                          (uint32_t)n, total);
    }
    p->head = p->tail = KV_PAGED_NONE;
    for (uint32_t b = 0; b < p->n_blocks; b++)
        list_push_tail(p, b);
    *out = p;
    return 0;
}

kv_cache *kv_paged_cache(kv_paged *p) { return &p->base; }

void kv_paged_set_evict(kv_paged *p, kv_paged_evict_fn fn, void *user)
{
    p->evict = fn;
    p->evict_user = user;
}

uint32_t kv_paged_n_blocks(const kv_paged *p) { return p->n_blocks; }
uint32_t kv_paged_n_free(const kv_paged *p) { return p->n_free; }
uint32_t kv_paged_refcount(const kv_paged *p, uint32_t block) { return p->refs[block]; }
