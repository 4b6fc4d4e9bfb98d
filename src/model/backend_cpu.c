/* The CPU backend: fwd_eval on a fwd_ctx, and KV transfers that copy the rows between
 * blocks and a payload's segments at once (so every fence is done when it is returned). */
#include "model/backend_cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/kv_pool_mem.h"

typedef struct backend_cpu {
    backend base;
    fwd_ctx *fc;
    uint64_t last_fence; /* transfers queued so far; each completed before it returned */
} backend_cpu;

static void *cpu_kv_alloc(backend *b, size_t bytes) { return kv_pool_alloc(bytes); }

static void cpu_kv_free(backend *b, void *p, size_t bytes) { kv_pool_free(p, bytes); }

static int cpu_eval(backend *b, kv_cache *kv, const fwd_batch *batch, float *logits,
                    model_error *err)
{
    return fwd_eval(((backend_cpu *)b)->fc, kv, batch, logits, err);
}

/* Copies positions [x->from, x->to) of one layer's K (side 0) or V (side 1) between the
 * segment seg, whose row 0 holds position x->start, and the blocks of x->table, through
 * the codec. A range may start and end inside a block. */
static void copy_rows(kv_cache *kv, const kv_xfer *x, uint32_t layer, int side, uint8_t *seg)
{
    size_t row_bytes = kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    size_t seg_row = kv_codec_row_bytes(x->codec, kv->dtype, kv->n_kv_heads, kv->head_dim);
    uint32_t bt = kv->block_tokens;
    for (uint32_t p = x->from; p < x->to;) {
        uint32_t blk = x->table[p / bt], row = p % bt;
        uint32_t n = bt - row < x->to - p ? bt - row : x->to - p;
        uint8_t *rows = (uint8_t *)(side ? kv->ops->v_block(kv, layer, blk)
                                         : kv->ops->k_block(kv, layer, blk)) +
                        row * row_bytes;
        uint8_t *s = seg + (size_t)(p - x->start) * seg_row;
        if (x->to_blocks)
            kv_codec_decode(x->codec, kv->dtype, s, rows, n, kv->n_kv_heads, kv->head_dim);
        else
            kv_codec_encode(x->codec, kv->dtype, rows, s, n, kv->n_kv_heads, kv->head_dim);
        p += n;
    }
}

static int cpu_kv_transfer(backend *b, kv_cache *kv, const kv_xfer *x, size_t n,
                           uint64_t *fence, model_error *err)
{
    backend_cpu *c = (backend_cpu *)b;
    /* All checked before any is copied: a refused call changes nothing. */
    for (size_t i = 0; i < n; i++) {
        if (x[i].on_device)
            return model_fail(err, "cpu backend: KV transfer %zu: the payload is in device "
                                   "memory, which this backend cannot reach", i);
        if (x[i].from < x[i].start || x[i].to < x[i].from)
            return model_fail(err, "cpu backend: KV transfer %zu: positions [%u, %u) are not "
                                   "within a payload starting at %u", i, x[i].from, x[i].to,
                              x[i].start);
        if (x[i].codec != KV_CODEC_NONE && kv->head_dim > KV_CODEC_HEAD_MAX)
            return model_fail(err, "cpu backend: KV transfer %zu: codec %s takes heads of at "
                                   "most %d values, not %u", i, kv_codec_name(x[i].codec),
                              KV_CODEC_HEAD_MAX, kv->head_dim);
        size_t row_bytes =
            kv_codec_row_bytes(x[i].codec, kv->dtype, kv->n_kv_heads, kv->head_dim);
        if ((size_t)(x[i].to - x[i].start) * row_bytes > x[i].seg_stride)
            return model_fail(err, "cpu backend: KV transfer %zu: %u rows of %zu bytes do not "
                                   "fit a segment of %zu bytes", i, x[i].to - x[i].start,
                              row_bytes, x[i].seg_stride);
    }
    for (size_t i = 0; i < n; i++)
        for (uint32_t l = 0; l < kv->n_layer; l++)
            for (int side = 0; side < 2; side++)
                copy_rows(kv, &x[i], l, side,
                          (uint8_t *)x[i].payload + (2 * (size_t)l + side) * x[i].seg_stride);
    *fence = ++c->last_fence;
    return 0;
}

static bool cpu_done(backend *b, uint64_t fence) { return true; }

static int cpu_wait(backend *b, uint64_t fence, model_error *err) { return 0; }

static void cpu_destroy(backend *b)
{
    backend_cpu *c = (backend_cpu *)b;
    fwd_destroy(c->fc);
    free(c);
}

static const backend_ops cpu_ops = {
    .kv_alloc = cpu_kv_alloc,
    .kv_free = cpu_kv_free,
    .eval = cpu_eval,
    .kv_transfer = cpu_kv_transfer,
    .done = cpu_done,
    .wait = cpu_wait,
    .destroy = cpu_destroy,
};

int backend_cpu_create(const model *m, int n_threads, const kern_set *ks, backend **out,
                       model_error *err)
{
    *out = NULL;
    backend_cpu *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(err, "cpu backend: out of memory");
    if (fwd_create(m, n_threads, ks, &c->fc, err) != 0) {
        free(c);
        return -1;
    }
    c->base.ops = &cpu_ops;
    c->base.kind = BACKEND_CPU;
    c->base.m = m;
    int threads = fwd_threads(c->fc);
    snprintf(c->base.device_name, sizeof c->base.device_name, "cpu (%s, %d thread%s)",
             fwd_kernels(c->fc)->name, threads, threads == 1 ? "" : "s");
    *out = &c->base;
    return 0;
}
