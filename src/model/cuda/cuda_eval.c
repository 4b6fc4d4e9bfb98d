/* The forward pass on the device (forward.h's contract, computed as forward.c computes it):
 * per step, the tokens, positions and the K/V block pointers of every layer go up in one
 * copy; the layers run as kernels and cuBLAS products on the compute stream; the logits of
 * the requested rows come back to the host. */
#include <stdlib.h>
#include <string.h>

#include "model/cuda/backend_cuda_internal.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_kernels.h"

/* Device views of one step's uploaded metadata. A token's block pointers for layer l are
 * k_ptrs[l·total_blk + blk_off[t] + i] for block i of its sequence. */
typedef struct step_meta {
    void **k_ptrs, **v_ptrs;
    int32_t *tokens;
    uint32_t *pos, *blk_off, *out_rows;
    uint32_t total_blk;
} step_meta;

/* The sequences of a batch: each distinct one with the blocks the step reaches. */
typedef struct step_seqs {
    uint32_t n;
    uint32_t *id, *blocks, *off; /* per sequence: id, blocks [0, blocks), first pointer */
    uint32_t *of_token;          /* per token: index of its sequence */
} step_seqs;

static void free_scratch(backend_cuda *c)
{
    float **bufs[] = {&c->x, &c->xn, &c->q, &c->k, &c->v, &c->att, &c->gate, &c->up};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        cudaFree(*bufs[i]);
        *bufs[i] = NULL;
    }
    cudaFree(c->act16);
    c->act16 = NULL;
    c->cap = 0;
}

static int ensure_scratch(backend_cuda *c, uint32_t n, model_error *err)
{
    if (n <= c->cap)
        return 0;
    CUDA_TRY(err, cudaStreamSynchronize(c->compute));
    free_scratch(c);
    const model_hparams *hp = &c->base.m->hp;
    size_t dim = hp->n_embd, kvd = (size_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    size_t widest = dim > ff ? dim : ff;
    struct {
        float **p;
        size_t floats;
    } bufs[] = {{&c->x, dim}, {&c->xn, dim}, {&c->q, dim},   {&c->k, kvd},
                {&c->v, kvd}, {&c->att, dim}, {&c->gate, ff}, {&c->up, ff}};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        cudaError_t e = cudaMalloc((void **)bufs[i].p, n * bufs[i].floats * sizeof(float));
        if (e != cudaSuccess) {
            free_scratch(c);
            return cuda_fail(err, "cudaMalloc (forward scratch)", e);
        }
    }
    cudaError_t e = cudaMalloc((void **)&c->act16, n * widest * sizeof(uint16_t));
    if (e != cudaSuccess) {
        free_scratch(c);
        return cuda_fail(err, "cudaMalloc (forward scratch)", e);
    }
    c->cap = n;
    return 0;
}

void cuda_eval_free(backend_cuda *c)
{
    free_scratch(c);
    cuda_buf_free(&c->logits);
    cuda_buf_free(&c->eval_meta);
    free(c->meta_host);
    c->meta_host = NULL;
    c->meta_host_cap = 0;
}

/* Groups the batch's tokens by sequence (a batch holds few sequences, usually in runs). */
static int find_seqs(const fwd_batch *b, uint32_t block_tokens, step_seqs *ss, model_error *err)
{
    uint32_t n = b->n_tokens;
    uint32_t *mem = malloc(4 * (size_t)n * sizeof *mem);
    if (!mem)
        return model_fail(err, "backend cuda: out of host memory for a batch of %u tokens", n);
    *ss = (step_seqs){0, mem, mem + n, mem + 2 * (size_t)n, mem + 3 * (size_t)n};
    for (uint32_t t = 0; t < n; t++) {
        uint32_t s = t > 0 && b->seq[t] == b->seq[t - 1] ? ss->of_token[t - 1] : 0;
        while (s < ss->n && ss->id[s] != b->seq[t])
            s++;
        if (s == ss->n) {
            ss->id[s] = b->seq[t];
            ss->blocks[s] = 0;
            ss->n++;
        }
        ss->of_token[t] = s;
        uint32_t need = b->pos[t] / block_tokens + 1;
        ss->blocks[s] = need > ss->blocks[s] ? need : ss->blocks[s];
    }
    uint32_t total = 0;
    for (uint32_t s = 0; s < ss->n; s++) {
        ss->off[s] = total;
        total += ss->blocks[s];
    }
    return 0;
}

/* Lays out the step's metadata in host memory (pointers first, for alignment), uploads it
 * and points sm at the device copy. */
static int upload_meta(backend_cuda *c, kv_cache *kv, const fwd_batch *b, const step_seqs *ss,
                       step_meta *sm, model_error *err)
{
    uint32_t n = b->n_tokens, n_layer = kv->n_layer;
    uint32_t total = ss->n ? ss->off[ss->n - 1] + ss->blocks[ss->n - 1] : 0;
    size_t n_ptrs = (size_t)n_layer * total;
    size_t ptr_bytes = 2 * n_ptrs * sizeof(void *);
    size_t bytes = ptr_bytes + (3 * (size_t)n + b->n_out) * sizeof(uint32_t);
    if (host_reserve(&c->meta_host, &c->meta_host_cap, bytes, err) ||
        cuda_buf_reserve(&c->eval_meta, bytes, c->compute, err))
        return -1;

    void **k_ptrs = c->meta_host, **v_ptrs = k_ptrs + n_ptrs;
    for (uint32_t s = 0; s < ss->n; s++) {
        const uint32_t *table = kv->ops->block_table(kv, ss->id[s]);
        for (uint32_t l = 0; l < n_layer; l++)
            for (uint32_t i = 0; i < ss->blocks[s]; i++) {
                size_t at = (size_t)l * total + ss->off[s] + i;
                k_ptrs[at] = kv->ops->k_block(kv, l, table[i]);
                v_ptrs[at] = kv->ops->v_block(kv, l, table[i]);
            }
    }
    uint32_t *words = (uint32_t *)(void *)(v_ptrs + n_ptrs);
    memcpy(words, b->tokens, n * sizeof *words);
    memcpy(words + n, b->pos, n * sizeof *words);
    for (uint32_t t = 0; t < n; t++)
        words[2 * (size_t)n + t] = ss->off[ss->of_token[t]];
    if (b->n_out)
        memcpy(words + 3 * (size_t)n, b->out_rows, b->n_out * sizeof *words);
    /* From pageable memory the copy has left meta_host when the call returns. */
    CUDA_TRY(err, cudaMemcpyAsync(c->eval_meta.p, c->meta_host, bytes, cudaMemcpyHostToDevice,
                                  c->compute));

    void **dk = c->eval_meta.p;
    uint32_t *dw = (uint32_t *)(void *)(dk + 2 * n_ptrs);
    *sm = (step_meta){dk, dk + n_ptrs, (int32_t *)dw, dw + n, dw + 2 * (size_t)n,
                      dw + 3 * (size_t)n, total};
    return 0;
}

/* The activations one group of products reads, rounded to F16 on first use by an F16
 * weight (as the CPU rounds them for F16 weights). */
typedef struct act_in {
    const float *x;
    uint32_t n, k;
    bool have16;
} act_in;

/* y (a->n × w->n_rows, row-major) = a->x · wᵀ. In cuBLAS's column-major terms that is
 * C (n_rows × n) = Wᵀ·X with W stored as a k × n_rows matrix. F32 weights use pedantic
 * F32 (no TF32); F16 weights multiply F16 activations accumulating in F32. */
static int gemm(backend_cuda *c, act_in *a, const cuda_weight *w, float *y, model_error *err)
{
    const void *in = a->x;
    cudaDataType type = CUDA_R_32F;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F_PEDANTIC;
    if (w->f16) {
        if (!a->have16) {
            CUDA_TRY(err, cuda_f32_to_f16(a->x, c->act16, (size_t)a->n * a->k, c->compute));
            a->have16 = true;
        }
        in = c->act16;
        type = CUDA_R_16F;
        compute = CUBLAS_COMPUTE_32F;
    }
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS_TRY(err, cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)w->n_rows, (int)a->n,
                                 (int)a->k, &alpha, w->data, type, (int)a->k, in, type,
                                 (int)a->k, &beta, y, CUDA_R_32F, (int)w->n_rows, compute,
                                 CUBLAS_GEMM_DEFAULT));
    return 0;
}

static int eval_layer(backend_cuda *c, const kv_cache *kv, const step_meta *sm, uint32_t n,
                      uint32_t il, model_error *err)
{
    const model_hparams *hp = &c->base.m->hp;
    const cuda_layer *L = &c->w.layers[il];
    cudaStream_t s = c->compute;
    uint32_t dim = hp->n_embd, ff = hp->n_ff, kvd = hp->n_head_kv * hp->head_dim;
    void **kp = sm->k_ptrs + (size_t)il * sm->total_blk;
    void **vp = sm->v_ptrs + (size_t)il * sm->total_blk;
    bool f16 = kv->dtype == KV_F16;

    CUDA_TRY(err, cuda_rmsnorm(c->x, NULL, L->attn_norm, c->xn, n, dim, hp->rms_eps, s));
    act_in a = {c->xn, n, dim, false};
    if (gemm(c, &a, &L->wq, c->q, err) || gemm(c, &a, &L->wk, c->k, err) ||
        gemm(c, &a, &L->wv, c->v, err))
        return -1;
    CUDA_TRY(err, cuda_rope_norm(c->q, c->k, sm->pos, n, hp->n_head, hp->n_head_kv,
                                 hp->head_dim, hp->n_rot, hp->rope_base, s));
    CUDA_TRY(err, cuda_kv_store(c->k, c->v, kp, vp, sm->blk_off, sm->pos, n, kvd,
                                kv->block_tokens, f16, s));
    CUDA_TRY(err, cuda_paged_attention(c->q, c->att, kp, vp, sm->blk_off, sm->pos, n,
                                       hp->n_head, hp->n_head_kv, hp->head_dim,
                                       kv->block_tokens, f16, s));
    a = (act_in){c->att, n, dim, false};
    if (gemm(c, &a, &L->wo, c->xn, err))
        return -1;
    CUDA_TRY(err, cuda_add(c->x, c->xn, (size_t)n * dim, s));

    CUDA_TRY(err, cuda_rmsnorm(c->x, NULL, L->ffn_norm, c->xn, n, dim, hp->rms_eps, s));
    a = (act_in){c->xn, n, dim, false};
    if (gemm(c, &a, &L->w_gate, c->gate, err) || gemm(c, &a, &L->w_up, c->up, err))
        return -1;
    CUDA_TRY(err, cuda_swiglu(c->gate, c->up, (size_t)n * ff, s));
    a = (act_in){c->gate, n, ff, false};
    if (gemm(c, &a, &L->w_down, c->xn, err))
        return -1;
    CUDA_TRY(err, cuda_add(c->x, c->xn, (size_t)n * dim, s));
    return 0;
}

/* The layers and the output rows, queued on the compute stream. */
static int run_step(backend_cuda *c, kv_cache *kv, const fwd_batch *b, const step_meta *sm,
                    float *logits, model_error *err)
{
    const model_hparams *hp = &c->base.m->hp;
    uint32_t n = b->n_tokens, dim = hp->n_embd;
    /* Loaded KV (scatters queued before this step) must be in the blocks first; gathers
     * queued before it go on while it computes (backend.h). */
    if (c->scattered)
        CUDA_TRY(err, cudaStreamWaitEvent(c->compute, c->scatters_done, 0));
    CUDA_TRY(err, cuda_embed_rows(c->w.embd_type, c->w.tok_embd, c->w.embd_row_bytes,
                                  sm->tokens, n, dim, c->x, c->compute));
    for (uint32_t il = 0; il < hp->n_layer; il++)
        if (eval_layer(c, kv, sm, n, il, err))
            return -1;
    if (b->n_out) {
        CUDA_TRY(err, cuda_rmsnorm(c->x, sm->out_rows, c->w.output_norm, c->xn, b->n_out, dim,
                                   hp->rms_eps, c->compute));
        act_in a = {c->xn, b->n_out, dim, false};
        if (gemm(c, &a, &c->w.output, c->logits.p, err))
            return -1;
        CUDA_TRY(err, cudaMemcpyAsync(logits, c->logits.p,
                                      (size_t)b->n_out * hp->n_vocab * sizeof(float),
                                      cudaMemcpyDeviceToHost, c->compute));
    }
    /* Gathers queued after this step read what it wrote. */
    CUDA_TRY(err, cudaEventRecord(c->eval_done, c->compute));
    c->evaluated = true;
    CUDA_TRY(err, cudaStreamSynchronize(c->compute));
    return 0;
}

int cuda_eval(backend *be, kv_cache *kv, const fwd_batch *b, float *logits, model_error *err)
{
    backend_cuda *c = (backend_cuda *)be;
    const model *m = c->base.m;
    CUDA_TRY(err, cudaSetDevice(c->device));
    cuda_clear_stale_error();
    if (fwd_check_batch(m, kv, b, err))
        return -1;
    for (uint32_t t = 0; t < b->n_tokens; t++)
        if (kv->ops->reserve(kv, b->seq[t], b->pos[t] + 1, err))
            return -1;
    if (ensure_scratch(c, b->n_tokens, err) ||
        cuda_buf_reserve(&c->logits, (size_t)b->n_out * m->hp.n_vocab * sizeof(float),
                         c->compute, err))
        return -1;
    step_seqs ss = {0};
    if (find_seqs(b, kv->block_tokens, &ss, err))
        return -1;
    step_meta sm = {0};
    int rc = upload_meta(c, kv, b, &ss, &sm, err);
    free(ss.id);
    if (rc == 0 && (rc = run_step(c, kv, b, &sm, logits, err)) != 0)
        /* A step that failed half-way may have kernels still writing KV blocks, and
         * eval_done does not cover them: let them finish before anything else runs. */
        cudaStreamSynchronize(c->compute);
    return rc;
}
