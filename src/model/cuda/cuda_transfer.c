/* KV transfers between a sequence's blocks and chunk payloads, on the copy stream, ordered
 * against the forward pass by events (backend.h): a transfer waits for the last eval
 * queued before it, and an eval waits for the scatters queued before it (gathers overlap
 * the next steps; the caller holds the blocks they read). Host payloads
 * go through a device staging buffer (one 2-D copy for all segments, then the scatter
 * kernel; or the gather kernel, then one 2-D copy back); device payloads are read or
 * written by the kernel directly. Positions are [from, to), as in backend_cpu.c. */
#include <stdlib.h>
#include <string.h>

#include "model/cuda/backend_cuda_internal.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_kernels.h"

static int check_xfer(const kv_cache *kv, const kv_xfer *x, size_t i, model_error *err)
{
    size_t row_bytes = kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    if (x->codec != KV_CODEC_NONE)
        return model_fail(err, "backend cuda: KV transfer %zu: the KV codec %s is not "
                               "available on the GPU (only none)", i, kv_codec_name(x->codec));
    if (x->from < x->start || x->to < x->from)
        return model_fail(err, "backend cuda: KV transfer %zu: positions [%u, %u) are not "
                               "within a payload starting at %u", i, x->from, x->to, x->start);
    if ((size_t)(x->to - x->start) * row_bytes > x->seg_stride)
        return model_fail(err, "backend cuda: KV transfer %zu: %u rows of %zu bytes do not fit "
                               "a segment of %zu bytes", i, x->to - x->start, row_bytes,
                          x->seg_stride);
    return 0;
}

/* Uploads the K and V block pointers of every layer for blocks [from / bt, (to-1) / bt]
 * of x's table: segment g = 2l + side, pointer i at g·n_blk + i. */
static int upload_block_ptrs(backend_cuda *c, kv_cache *kv, const kv_xfer *x, uint32_t *n_blk,
                             model_error *err)
{
    uint32_t bt = kv->block_tokens, first = x->from / bt;
    *n_blk = (x->to - 1) / bt - first + 1;
    size_t n_ptrs = 2 * (size_t)kv->n_layer * *n_blk, bytes = n_ptrs * sizeof(void *);
    if (host_reserve(&c->ptrs_host, &c->ptrs_host_cap, bytes, err) ||
        cuda_buf_reserve(&c->xfer_ptrs, bytes, c->copy, err))
        return -1;
    void **ptrs = c->ptrs_host;
    for (uint32_t l = 0; l < kv->n_layer; l++)
        for (uint32_t i = 0; i < *n_blk; i++) {
            uint32_t blk = x->table[first + i];
            ptrs[(2 * (size_t)l) * *n_blk + i] = kv->ops->k_block(kv, l, blk);
            ptrs[(2 * (size_t)l + 1) * *n_blk + i] = kv->ops->v_block(kv, l, blk);
        }
    /* From pageable memory the copy has left ptrs_host when the call returns. */
    CUDA_TRY(err, cudaMemcpyAsync(c->xfer_ptrs.p, ptrs, bytes, cudaMemcpyHostToDevice, c->copy));
    return 0;
}

static int queue_one(backend_cuda *c, kv_cache *kv, const kv_xfer *x, model_error *err)
{
    if (x->from == x->to)
        return 0;
    uint32_t n_blk, bt = kv->block_tokens, n_rows = x->to - x->from;
    if (upload_block_ptrs(c, kv, x, &n_blk, err))
        return -1;
    size_t row_bytes = kv_row_elems(kv) * kv_dtype_size(kv->dtype);
    size_t width = (size_t)n_rows * row_bytes;
    uint32_t n_seg = 2 * kv->n_layer;
    uint8_t *rows = (uint8_t *)x->payload + (size_t)(x->from - x->start) * row_bytes;
    void *const *ptrs = c->xfer_ptrs.p;
    if (x->on_device)
        CUDA_TRY(err, cuda_kv_copy_rows(ptrs, n_blk, rows, x->seg_stride, n_seg, x->from % bt,
                                        n_rows, bt, row_bytes, x->to_blocks, c->copy));
    else {
        if (cuda_buf_reserve(&c->staging, width * n_seg, c->copy, err))
            return -1;
        if (x->to_blocks)
            CUDA_TRY(err, cudaMemcpy2DAsync(c->staging.p, width, rows, x->seg_stride, width,
                                            n_seg, cudaMemcpyHostToDevice, c->copy));
        CUDA_TRY(err, cuda_kv_copy_rows(ptrs, n_blk, c->staging.p, width, n_seg, x->from % bt,
                                        n_rows, bt, row_bytes, x->to_blocks, c->copy));
        if (!x->to_blocks)
            CUDA_TRY(err, cudaMemcpy2DAsync(rows, x->seg_stride, c->staging.p, width, width,
                                            n_seg, cudaMemcpyDeviceToHost, c->copy));
    }
    return 0;
}

/* An event for a new fence: a spare one or a new one. */
static int take_event(backend_cuda *c, cudaEvent_t *ev, model_error *err)
{
    if (c->n_spare) {
        *ev = c->spare[--c->n_spare];
        return 0;
    }
    CUDA_TRY(err, cudaEventCreateWithFlags(ev, cudaEventDisableTiming));
    return 0;
}

/* Records the next fence on the copy stream (under fence_mu). */
static int push_fence(backend_cuda *c, uint64_t *fence, model_error *err)
{
    if (c->head > 0 && c->n == c->cap_pending) { /* reuse the popped front */
        memmove(c->pending, c->pending + c->head, (c->n - c->head) * sizeof *c->pending);
        c->n -= c->head;
        c->head = 0;
    }
    if (c->n == c->cap_pending) {
        size_t cap = c->cap_pending ? 2 * c->cap_pending : 16;
        cuda_fence *grown = realloc(c->pending, cap * sizeof *grown);
        cudaEvent_t *spare = realloc(c->spare, cap * sizeof *spare);
        if (grown)
            c->pending = grown;
        if (spare)
            c->spare = spare;
        if (!grown || !spare)
            return model_fail(err, "backend cuda: out of host memory for fences");
        c->cap_pending = cap;
    }
    cudaEvent_t ev;
    if (take_event(c, &ev, err))
        return -1;
    cudaError_t e = cudaEventRecord(ev, c->copy);
    if (e != cudaSuccess) {
        c->spare[c->n_spare++] = ev;
        return cuda_fail(err, "cudaEventRecord (fence)", e);
    }
    c->pending[c->n++] = (cuda_fence){++c->issued, ev};
    *fence = c->issued;
    return 0;
}

int cuda_kv_transfer(backend *b, kv_cache *kv, const kv_xfer *x, size_t n, uint64_t *fence,
                     model_error *err)
{
    backend_cuda *c = (backend_cuda *)b;
    /* All checked before any is queued: a refused call queues nothing. */
    for (size_t i = 0; i < n; i++)
        if (check_xfer(kv, &x[i], i, err))
            return -1;
    CUDA_TRY(err, cudaSetDevice(c->device));
    cuda_clear_stale_error();
    if (c->evaluated) /* gathers read what the steps queued before them wrote */
        CUDA_TRY(err, cudaStreamWaitEvent(c->copy, c->eval_done, 0));
    bool scatter = false;
    for (size_t i = 0; i < n; i++) {
        if (queue_one(c, kv, &x[i], err)) {
            /* No fence covers the copies queued before the failure: let them finish, so
             * no step races them and the caller may free the payloads. */
            cudaStreamSynchronize(c->copy);
            return -1;
        }
        scatter |= x[i].to_blocks;
    }
    if (scatter) {
        CUDA_TRY(err, cudaEventRecord(c->scatters_done, c->copy));
        c->scattered = true;
    }
    pthread_mutex_lock(&c->fence_mu);
    int rc = push_fence(c, fence, err);
    pthread_mutex_unlock(&c->fence_mu);
    return rc;
}

/* Pops the front fence, which has completed (under fence_mu). */
static void pop_fence(backend_cuda *c)
{
    c->completed = c->pending[c->head].id;
    c->spare[c->n_spare++] = c->pending[c->head].ev;
    if (++c->head == c->n)
        c->head = c->n = 0;
}

bool cuda_done(backend *b, uint64_t fence)
{
    backend_cuda *c = (backend_cuda *)b;
    pthread_mutex_lock(&c->fence_mu);
    if (cudaSetDevice(c->device) == cudaSuccess)
        while (c->completed < fence && c->head < c->n &&
               cudaEventQuery(c->pending[c->head].ev) == cudaSuccess)
            pop_fence(c);
    bool done = fence <= c->completed;
    pthread_mutex_unlock(&c->fence_mu);
    return done;
}

int cuda_wait(backend *b, uint64_t fence, model_error *err)
{
    backend_cuda *c = (backend_cuda *)b;
    int rc = 0;
    pthread_mutex_lock(&c->fence_mu);
    if (fence > c->issued)
        rc = model_fail(err, "backend cuda: fence %llu was never issued (last %llu)",
                        (unsigned long long)fence, (unsigned long long)c->issued);
    cudaError_t e = cudaSetDevice(c->device);
    while (!rc && e == cudaSuccess && c->completed < fence) {
        e = cudaEventSynchronize(c->pending[c->head].ev);
        if (e == cudaSuccess)
            pop_fence(c);
    }
    if (!rc && e != cudaSuccess)
        rc = cuda_fail(err, "cudaEventSynchronize (KV transfer fence)", e);
    pthread_mutex_unlock(&c->fence_mu);
    return rc;
}

void cuda_transfer_free(backend_cuda *c)
{
    for (size_t i = c->head; i < c->n; i++)
        cudaEventDestroy(c->pending[i].ev);
    for (size_t i = 0; i < c->n_spare; i++)
        cudaEventDestroy(c->spare[i]);
    free(c->pending);
    free(c->spare);
    cuda_buf_free(&c->xfer_ptrs);
    cuda_buf_free(&c->staging);
    free(c->ptrs_host);
}
