/* The weights on the device, uploaded once. F32 stays F32 and BF16 is widened to F32
 * (exact); F16 stays F16; Q8_0, Q4_0, Q4_K and Q6_K are expanded to F16 on the device, tile
 * by tile through a staging buffer, by the same decoding as the CPU's (dequant.cu). The
 * embedding table stays in its GGUF encoding (its rows are decoded per step). */
#include <stdlib.h>

#include "model/cuda/backend_cuda_internal.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_kernels.h"

#define STAGING_BYTES ((size_t)64 << 20)

/* Raw weight bytes on their way to being decoded. */
typedef struct upload_ctx {
    backend_cuda *c;
    uint8_t *staging;
    size_t staging_bytes;
} upload_ctx;

/* Device memory owned by w; NULL with err set on failure. */
static void *device_alloc(cuda_weights *w, size_t bytes, model_error *err)
{
    if (w->n_allocs == w->cap_allocs) {
        size_t cap = w->cap_allocs ? 2 * w->cap_allocs : 64;
        void **grown = realloc(w->allocs, cap * sizeof *grown);
        if (!grown) {
            model_fail(err, "backend cuda: out of host memory");
            return NULL;
        }
        w->allocs = grown;
        w->cap_allocs = cap;
    }
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        model_fail(err, "backend cuda: cudaMalloc of %zu bytes for the weights: %s", bytes,
                   cudaGetErrorString(e));
        return NULL;
    }
    w->allocs[w->n_allocs++] = p;
    return p;
}

/* A host array copied as is; NULL with err set on failure. */
static void *upload_bytes(backend_cuda *c, const void *src, size_t bytes, model_error *err)
{
    void *p = device_alloc(&c->w, bytes, err);
    if (!p)
        return NULL;
    cudaError_t e = cudaMemcpyAsync(p, src, bytes, cudaMemcpyHostToDevice, c->compute);
    if (e != cudaSuccess) {
        cuda_fail(err, "cudaMemcpyAsync (weights)", e);
        return NULL;
    }
    return p;
}

static int upload_weight(upload_ctx *u, const model_weight *mw, cuda_weight *out,
                         model_error *err)
{
    backend_cuda *c = u->c;
    bool f16 = mw->type != KW_F32 && mw->type != KW_BF16;
    size_t esz = f16 ? 2 : 4;
    *out = (cuda_weight){NULL, f16, mw->n_rows, mw->n_cols};
    out->data = device_alloc(&c->w, (size_t)mw->n_rows * mw->n_cols * esz, err);
    if (!out->data)
        return -1;
    uint32_t tile = (uint32_t)(u->staging_bytes / mw->row_bytes);
    for (uint32_t r = 0; r < mw->n_rows; r += tile) {
        uint32_t n = mw->n_rows - r < tile ? mw->n_rows - r : tile;
        /* Stream order keeps the next tile's copy behind this tile's kernel. */
        CUDA_TRY(err, cudaMemcpyAsync(u->staging, mw->data + (size_t)r * mw->row_bytes,
                                      (size_t)n * mw->row_bytes, cudaMemcpyHostToDevice,
                                      c->compute));
        CUDA_TRY(err, cuda_dequant_rows(mw->type, u->staging, mw->row_bytes, n, mw->n_cols,
                                        (uint8_t *)out->data + (size_t)r * mw->n_cols * esz, f16,
                                        c->compute));
    }
    return 0;
}

static int upload_layer(upload_ctx *u, const model_layer *L, cuda_layer *out, size_t norm_bytes,
                        model_error *err)
{
    backend_cuda *c = u->c;
    out->attn_norm = upload_bytes(c, L->attn_norm, norm_bytes, err);
    out->ffn_norm = out->attn_norm ? upload_bytes(c, L->ffn_norm, norm_bytes, err) : NULL;
    if (!out->ffn_norm)
        return -1;
    const model_weight *src[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    cuda_weight *dst[] = {&out->wq, &out->wk, &out->wv, &out->wo, &out->w_gate, &out->w_up,
                          &out->w_down};
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        if (upload_weight(u, src[i], dst[i], err))
            return -1;
    return 0;
}

/* The largest row of any matrix, so that one tile holds at least one row. */
static size_t widest_row(const model *m)
{
    size_t widest = m->output.row_bytes;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const model_layer *L = &m->layers[l];
        const model_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                    &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            widest = ws[i]->row_bytes > widest ? ws[i]->row_bytes : widest;
    }
    return widest;
}

static int upload_all(upload_ctx *u, const model *m, model_error *err)
{
    backend_cuda *c = u->c;
    cuda_weights *w = &c->w;
    size_t norm_bytes = (size_t)m->hp.n_embd * sizeof(float);
    w->layers = calloc(m->hp.n_layer, sizeof *w->layers);
    if (!w->layers)
        return model_fail(err, "backend cuda: out of host memory");
    for (uint32_t l = 0; l < m->hp.n_layer; l++)
        if (upload_layer(u, &m->layers[l], &w->layers[l], norm_bytes, err))
            return -1;
    w->embd_type = m->tok_embd.type;
    w->embd_row_bytes = m->tok_embd.row_bytes;
    if (upload_weight(u, &m->output, &w->output, err))
        return -1;
    w->output_norm = upload_bytes(c, m->output_norm, norm_bytes, err);
    w->tok_embd = w->output_norm ? upload_bytes(c, m->tok_embd.data,
                                                (size_t)m->tok_embd.n_rows * m->tok_embd.row_bytes,
                                                err)
                                 : NULL;
    if (!w->tok_embd)
        return -1;
    CUDA_TRY(err, cudaStreamSynchronize(c->compute));
    return 0;
}

int cuda_weights_upload(backend_cuda *c, const model *m, model_error *err)
{
    upload_ctx u = {c, NULL, widest_row(m) > STAGING_BYTES ? widest_row(m) : STAGING_BYTES};
    cuda_clear_stale_error();
    CUDA_TRY(err, cudaMalloc((void **)&u.staging, u.staging_bytes));
    int rc = upload_all(&u, m, err);
    /* Synchronized before the staging goes, also when a step failed. */
    cudaStreamSynchronize(c->compute);
    cudaFree(u.staging);
    return rc;
}

void cuda_weights_free(cuda_weights *w)
{
    for (size_t i = 0; i < w->n_allocs; i++)
        cudaFree(w->allocs[i]);
    free(w->allocs);
    free(w->layers);
    *w = (cuda_weights){0};
}
