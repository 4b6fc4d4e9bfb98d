/* The CUDA backend's life cycle: the device, a compute and a copy stream, the cuBLAS
 * handle and the ordering events; the KV pool's device memory; the ops table. */
#include "model/cuda/backend_cuda.h"

#include <stdio.h>
#include <stdlib.h>

#include "model/cuda/backend_cuda_internal.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_kernels.h"

int cuda_buf_reserve(cuda_buf *buf, size_t bytes, cudaStream_t user, model_error *err)
{
    if (bytes <= buf->bytes)
        return 0;
    size_t want = bytes > 2 * buf->bytes ? bytes : 2 * buf->bytes;
    CUDA_TRY(err, cudaStreamSynchronize(user));
    cuda_buf_free(buf);
    CUDA_TRY(err, cudaMalloc(&buf->p, want));
    buf->bytes = want;
    return 0;
}

void cuda_buf_free(cuda_buf *buf)
{
    cudaFree(buf->p);
    buf->p = NULL;
    buf->bytes = 0;
}

int host_reserve(void **p, size_t *cap, size_t bytes, model_error *err)
{
    if (bytes <= *cap)
        return 0;
    size_t want = bytes > 2 * *cap ? bytes : 2 * *cap;
    void *grown = realloc(*p, want);
    if (!grown)
        return model_fail(err, "backend cuda: out of host memory (%zu bytes)", want);
    *p = grown;
    *cap = want;
    return 0;
}

/* Zeroed device memory for the KV pool. */
static void *cuda_kv_alloc(backend *b, size_t bytes)
{
    backend_cuda *c = (backend_cuda *)b;
    void *p = NULL;
    if (cudaSetDevice(c->device) != cudaSuccess || cudaMalloc(&p, bytes) != cudaSuccess)
        return NULL;
    if (cudaMemsetAsync(p, 0, bytes, c->compute) != cudaSuccess ||
        cudaStreamSynchronize(c->compute) != cudaSuccess) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

static void cuda_kv_free(backend *b, void *p, size_t bytes)
{
    backend_cuda *c = (backend_cuda *)b;
    if (!p || cudaSetDevice(c->device) != cudaSuccess)
        return;
    /* Work queued on either stream may still use the pool. */
    cudaStreamSynchronize(c->compute);
    cudaStreamSynchronize(c->copy);
    cudaFree(p);
}

/* Everything create made, in reverse; safe on a partly created backend. */
static void cuda_destroy(backend *b)
{
    backend_cuda *c = (backend_cuda *)b;
    if (cudaSetDevice(c->device) == cudaSuccess) {
        if (c->compute)
            cudaStreamSynchronize(c->compute);
        if (c->copy)
            cudaStreamSynchronize(c->copy);
    }
    cuda_transfer_free(c);
    cuda_eval_free(c);
    cuda_weights_free(&c->w);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->eval_done)
        cudaEventDestroy(c->eval_done);
    if (c->scatters_done)
        cudaEventDestroy(c->scatters_done);
    if (c->copy)
        cudaStreamDestroy(c->copy);
    if (c->compute)
        cudaStreamDestroy(c->compute);
    pthread_mutex_destroy(&c->fence_mu);
    free(c);
}

static int cuda_mem_info(backend *b, uint64_t *free_bytes, uint64_t *total_bytes,
                         model_error *err)
{
    backend_cuda *c = (backend_cuda *)b;
    size_t free_b = 0, total_b = 0;
    CUDA_TRY(err, cudaSetDevice(c->device));
    CUDA_TRY(err, cudaMemGetInfo(&free_b, &total_b));
    *free_bytes = free_b;
    *total_bytes = total_b;
    return 0;
}

static const backend_ops cuda_ops = {
    .kv_alloc = cuda_kv_alloc,
    .kv_free = cuda_kv_free,
    .eval = cuda_eval,
    .kv_transfer = cuda_kv_transfer,
    .done = cuda_done,
    .wait = cuda_wait,
    .destroy = cuda_destroy,
    .mem_info = cuda_mem_info,
};

static int check_device(int device, struct cudaDeviceProp *prop, model_error *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return model_fail(err, "backend cuda: no CUDA device (cudaGetDeviceCount: %s)",
                          cudaGetErrorString(e));
    if (count == 0)
        return model_fail(err, "backend cuda: no CUDA device (cudaGetDeviceCount: 0 devices)");
    if (device < 0 || device >= count)
        return model_fail(err, "backend cuda: device %d does not exist (%d device%s)", device,
                          count, count == 1 ? "" : "s");
    CUDA_TRY(err, cudaSetDevice(device));
    CUDA_TRY(err, cudaGetDeviceProperties(prop, device));
    return 0;
}

/* Shapes the kernels handle (cuda_kernels.h). */
static int check_model(const model *m, model_error *err)
{
    const model_hparams *hp = &m->hp;
    /* The CUDA kernels are the llama architecture's: no QKV bias, no Q/K norm, adjacent-pair
     * RoPE and Q as wide as the embedding. Anything else is refused, never miscomputed. */
    const model_layer *L = &m->layers[0];
    if (L->bq || L->q_norm || hp->rope_style != MODEL_ROPE_NORM || hp->q_dim != hp->n_embd)
        return model_fail(err, "backend cuda: architecture %s (%s%s%s%s) is not implemented on "
                               "CUDA; run it with --device cpu", m->arch,
                          L->bq ? "QKV bias, " : "", L->q_norm ? "Q/K norm, " : "",
                          hp->rope_style == MODEL_ROPE_NEOX ? "NeoX RoPE" : "RoPE",
                          hp->q_dim != hp->n_embd ? ", heads wider than n_embd / n_head" : "");
    if (hp->head_dim > CUDA_ATTN_MAX_HEAD_DIM)
        return model_fail(err, "backend cuda: head dimension %u is above the %d the attention "
                               "kernel handles", hp->head_dim, CUDA_ATTN_MAX_HEAD_DIM);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return model_fail(err, "backend cuda: rotated dimensions %u must be even and at most "
                               "the head dimension %u", hp->n_rot, hp->head_dim);
    return 0;
}

static int create_streams(backend_cuda *c, model_error *err)
{
    CUDA_TRY(err, cudaStreamCreateWithFlags(&c->compute, cudaStreamNonBlocking));
    CUDA_TRY(err, cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking));
    CUDA_TRY(err, cudaEventCreateWithFlags(&c->eval_done, cudaEventDisableTiming));
    CUDA_TRY(err, cudaEventCreateWithFlags(&c->scatters_done, cudaEventDisableTiming));
    CUBLAS_TRY(err, cublasCreate(&c->blas));
    CUBLAS_TRY(err, cublasSetStream(c->blas, c->compute));
    return 0;
}

int backend_cuda_create(const model *m, int device, backend **out, model_error *err)
{
    *out = NULL;
    struct cudaDeviceProp prop;
    if (check_model(m, err) || check_device(device, &prop, err))
        return -1;
    backend_cuda *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(err, "backend cuda: out of memory");
    c->base.ops = &cuda_ops;
    c->base.kind = BACKEND_CUDA;
    c->base.m = m;
    c->device = device;
    pthread_mutex_init(&c->fence_mu, NULL);
    if (create_streams(c, err) || cuda_weights_upload(c, m, err)) {
        cuda_destroy(&c->base);
        return -1;
    }
    /* "NVIDIA H200 (sm_90, 139 GiB)"; a long device name is cut to fit. */
    snprintf(c->base.device_name, sizeof c->base.device_name, "%.96s (sm_%d%d, %.0f GiB)",
             prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / (1u << 30));
    *out = &c->base;
    return 0;
}

int backend_cuda_device(const backend *b) { return ((const backend_cuda *)b)->device; }
