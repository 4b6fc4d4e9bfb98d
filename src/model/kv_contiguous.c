/* The simplest KV cache behind kv_cache.h: every sequence owns max_pos preallocated
 * positions, so its block table is the identity over its own range of blocks. */
#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "model/kv_pool_mem.h"

#define KV_CONTIG_BLOCK 16

typedef struct kv_contig {
    kv_cache base;
    backend *be;        /* whose memory k and v are; NULL: host */
    uint32_t n_seq, blocks_per_seq;
    size_t block_bytes; /* one layer's K (or V) for one block */
    uint8_t *k, *v;     /* [layer][n_seq·blocks_per_seq blocks] */
    uint32_t *tables;   /* [n_seq][blocks_per_seq] */
} kv_contig;

int kv_dtype_parse(const char *s, kv_dtype *out)
{
    if (!strcmp(s, "f16"))
        *out = KV_F16;
    else if (!strcmp(s, "f32"))
        *out = KV_F32;
    else
        return -1;
    return 0;
}

static int contig_reserve(kv_cache *kv, uint32_t seq, uint32_t n_pos, model_error *err)
{
    kv_contig *c = (kv_contig *)kv;
    if (seq >= c->n_seq)
        return model_fail(err, "kv cache: sequence %u out of range (%u sequences)", seq,
                          c->n_seq);
    if (n_pos > c->blocks_per_seq * KV_CONTIG_BLOCK)
        return model_fail(err, "kv cache: sequence %u: %u positions exceed the capacity %u",
                          seq, n_pos, c->blocks_per_seq * KV_CONTIG_BLOCK);
    return 0;
}

static const uint32_t *contig_table(kv_cache *kv, uint32_t seq)
{
    kv_contig *c = (kv_contig *)kv;
    return c->tables + (size_t)seq * c->blocks_per_seq;
}

static size_t layer_bytes(const kv_contig *c)
{
    return c->block_bytes * c->n_seq * c->blocks_per_seq;
}

static void *contig_k(kv_cache *kv, uint32_t layer, uint32_t block)
{
    kv_contig *c = (kv_contig *)kv;
    return c->k + layer * layer_bytes(c) + block * c->block_bytes;
}

static void *contig_v(kv_cache *kv, uint32_t layer, uint32_t block)
{
    kv_contig *c = (kv_contig *)kv;
    return c->v + layer * layer_bytes(c) + block * c->block_bytes;
}

static void contig_destroy(kv_cache *kv)
{
    kv_contig *c = (kv_contig *)kv;
    size_t total = layer_bytes(c) * c->base.n_layer;
    kv_pool_free_in(c->be, c->k, total);
    kv_pool_free_in(c->be, c->v, total);
    free(c->tables);
    free(c);
}

static const kv_cache_ops contig_ops = {
    .reserve = contig_reserve,
    .block_table = contig_table,
    .k_block = contig_k,
    .v_block = contig_v,
    .destroy = contig_destroy,
};

int kv_contiguous_create(backend *b, uint32_t n_layer, uint32_t n_kv_heads, uint32_t head_dim,
                         uint32_t n_seq, uint32_t max_pos, kv_dtype dtype,
                         kv_cache **out, model_error *err)
{
    *out = NULL;
    if (!n_layer || !n_kv_heads || !head_dim || !n_seq || !max_pos)
        return model_fail(err, "kv cache: zero-sized dimension");
    kv_contig *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(err, "kv cache: out of memory");
    c->base = (kv_cache){&contig_ops, dtype, KV_CONTIG_BLOCK, n_layer, n_kv_heads, head_dim};
    c->be = b;
    c->n_seq = n_seq;
    c->blocks_per_seq = (max_pos + KV_CONTIG_BLOCK - 1) / KV_CONTIG_BLOCK;
    c->block_bytes = KV_CONTIG_BLOCK * kv_row_elems(&c->base) * kv_dtype_size(dtype);
    size_t total = layer_bytes(c) * n_layer;
    size_t n_blocks = (size_t)n_seq * c->blocks_per_seq;
    c->k = kv_pool_alloc_in(b, total);
    c->v = kv_pool_alloc_in(b, total);
    c->tables = malloc(n_blocks * sizeof *c->tables);
    if (!c->k || !c->v || !c->tables) {
        contig_destroy(&c->base);
        return model_fail(err, "kv cache: cannot allocate 2 × %zu bytes", total);
    }
    for (size_t i = 0; i < n_blocks; i++)
        c->tables[i] = (uint32_t)i;
    *out = &c->base;
    return 0;
}
