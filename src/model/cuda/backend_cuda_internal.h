/* The CUDA backend's state, shared by its files: backend_cuda.c (device, streams, life
 * cycle), cuda_weights.c (the weights on the device), cuda_eval.c (the forward pass) and
 * cuda_transfer.c (KV transfers and fences).
 *
 * Threads: eval and kv_transfer are called by one thread at a time (the engine's step
 * loop); done and wait may be called from any thread. */
#ifndef KVSPILL_MODEL_CUDA_BACKEND_CUDA_INTERNAL_H
#define KVSPILL_MODEL_CUDA_BACKEND_CUDA_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "model/backend.h"

/* A weight matrix on the device, dense row-major: F16 (F16 and the quantized types,
 * expanded at load) or F32 (F32, and BF16 widened exactly). */
typedef struct cuda_weight {
    void *data;
    bool f16;
    uint32_t n_rows, n_cols;
} cuda_weight;

typedef struct cuda_layer {
    float *attn_norm, *ffn_norm;
    cuda_weight wq, wk, wv, wo, w_gate, w_up, w_down;
} cuda_layer;

typedef struct cuda_weights {
    cuda_layer *layers;
    cuda_weight output;
    float *output_norm;
    /* The embedding table in its GGUF encoding; rows are decoded per step (exact F32 values
     * as the CPU gets them, and 1/4 of the memory of F32 for Q8_0). */
    uint8_t *tok_embd;
    kern_wtype embd_type;
    size_t embd_row_bytes;
    void **allocs; /* every device allocation above, freed together */
    size_t n_allocs, cap_allocs;
} cuda_weights;

/* A device buffer that grows on demand. */
typedef struct cuda_buf {
    void *p;
    size_t bytes;
} cuda_buf;

typedef struct cuda_fence {
    uint64_t id;
    cudaEvent_t ev;
} cuda_fence;

typedef struct backend_cuda {
    backend base;
    int device;
    cudaStream_t compute; /* the forward pass */
    cudaStream_t copy;    /* KV transfers */
    cublasHandle_t blas;  /* on the compute stream */
    cudaEvent_t eval_done;     /* recorded on compute after each eval */
    cudaEvent_t scatters_done; /* recorded on copy after each kv_transfer with a scatter */
    bool evaluated, scattered; /* whether those events were ever recorded */
    cuda_weights w;

    /* Forward-pass scratch for up to cap tokens (cuda_eval.c). */
    uint32_t cap;
    float *x, *xn, *q, *k, *v, *att, *gate, *up;
    uint16_t *act16; /* activations rounded to F16 for F16 weights */
    cuda_buf logits, eval_meta;
    void *meta_host; /* the step's tokens, positions and block pointers before upload */
    size_t meta_host_cap;

    /* Transfers (cuda_transfer.c): block pointer tables and the staging for host payloads. */
    cuda_buf xfer_ptrs, staging;
    void *ptrs_host; /* block pointers before upload */
    size_t ptrs_host_cap;

    /* Fences: pending[head, n) in issue order, each an event recorded on the copy stream. */
    pthread_mutex_t fence_mu;
    cuda_fence *pending;
    size_t head, n, cap_pending;
    cudaEvent_t *spare; /* events of completed fences, for reuse */
    size_t n_spare;
    uint64_t issued, completed;
} backend_cuda;

/* cuda_weights.c */
int cuda_weights_upload(backend_cuda *c, const model *m, model_error *err);
void cuda_weights_free(cuda_weights *w);

/* cuda_eval.c */
int cuda_eval(backend *b, kv_cache *kv, const fwd_batch *batch, float *logits, model_error *err);
void cuda_eval_free(backend_cuda *c);

/* cuda_transfer.c */
int cuda_kv_transfer(backend *b, kv_cache *kv, const kv_xfer *x, size_t n, uint64_t *fence,
                     model_error *err);
bool cuda_done(backend *b, uint64_t fence);
int cuda_wait(backend *b, uint64_t fence, model_error *err);
void cuda_transfer_free(backend_cuda *c);

/* Grows buf to at least bytes; `user` (the stream that uses it) is synchronized first so
 * that no queued work still reads the old memory. */
int cuda_buf_reserve(cuda_buf *buf, size_t bytes, cudaStream_t user, model_error *err);
void cuda_buf_free(cuda_buf *buf);
/* Grows a host buffer (*p, *cap bytes) to at least bytes. */
int host_reserve(void **p, size_t *cap, size_t bytes, model_error *err);

#endif
