/* Where the forward pass runs and where the KV cache lives (ARCHITECTURE.md §5 "Backend"): one
 * struct of function pointers, as kv_cache_ops and the cache library's tiers are built, and
 * one implementation per device: backend_cpu.c (the thread pool and the CPU kernels of
 * forward.c) and cuda/backend_cuda.c (cuBLAS and our own kernels, built when nvcc is
 * found). The engine, the connector and the CLI's model tools see only this interface,
 * and the engine reaches a GPU's memory (for the offload library) through it as well.
 *
 * Memory: the KV pool (every block's K and V rows) is allocated by the backend, so on a GPU
 * the kv_cache's k_block/v_block return device pointers; only the backend dereferences
 * them. Logits always come back in host memory.
 *
 * Ordering: kv_transfer queues copies between a sequence's blocks and a chunk payload.
 * Transfers run in the order queued. An eval runs after every scatter (to_blocks) queued
 * before it, so loaded KV is seen by the next step, and before every transfer queued after
 * it, so a gather reads what the step wrote. A gather queued before an eval may still be
 * running while it computes (that is the overlap of copies with compute): until the
 * gather's fence is done, the caller must keep the blocks it reads from being handed to a
 * sequence the eval writes (the connector holds a reference to each). Memory a gather
 * writes into is ready once wait(fence) returns or done(fence) says so; the CPU backend
 * copies at once. */
#ifndef KVSPILL_MODEL_BACKEND_H
#define KVSPILL_MODEL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/forward.h"
#include "model/kernels.h"
#include "model/kv_codec.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/model_error.h"

typedef enum backend_kind {
    BACKEND_AUTO = 0, /* CUDA when built and a device is present, else CPU */
    BACKEND_CPU,
    BACKEND_CUDA,
} backend_kind;

/* "auto", "cpu", "cuda" (vLLM's --device); -1 when unknown. */
int backend_kind_parse(const char *s, backend_kind *out);
const char *backend_kind_name(backend_kind k);

/* A copy between a sequence's KV blocks and a chunk payload. The payload is layer-major:
 * segment (layer l, K) at payload + (2l)·seg_stride, (l, V) at payload + (2l+1)·seg_stride;
 * row i of a segment holds position start + i, in codec's format (kv_codec.h): with
 * KV_CODEC_NONE the blocks' rows as they are, kv_row_elems(kv)·kv_dtype_size bytes. */
typedef struct kv_xfer {
    const uint32_t *table; /* the sequence's block table (host memory) */
    uint32_t start;        /* position of row 0 of every segment */
    uint32_t from, to;     /* positions copied: start <= from <= to */
    void *payload;         /* host memory, or device memory when on_device */
    size_t seg_stride;     /* bytes between segments (kvs_segment_stride) */
    bool on_device;        /* payload is in the backend's device memory */
    bool to_blocks;        /* true: payload → blocks (a load); false: blocks → payload */
    kv_codec codec;        /* the payload rows' format; only the CPU backend quantizes */
} kv_xfer;

typedef struct backend backend;

typedef struct backend_ops {
    /* bytes of zeroed memory for the KV pool (device memory on a GPU); NULL on failure. */
    void *(*kv_alloc)(backend *b, size_t bytes);
    void (*kv_free)(backend *b, void *p, size_t bytes);
    /* forward.h's fwd_eval contract: kv's blocks are in this backend's memory. */
    int (*eval)(backend *b, kv_cache *kv, const fwd_batch *batch, float *logits,
                model_error *err);
    /* Queues n copies (see the ordering above); *fence identifies the last of them. */
    int (*kv_transfer)(backend *b, kv_cache *kv, const kv_xfer *x, size_t n, uint64_t *fence,
                       model_error *err);
    /* Whether the transfers up to fence have completed; never blocks. */
    bool (*done)(backend *b, uint64_t fence);
    /* Blocks until the transfers up to fence have completed. */
    int (*wait)(backend *b, uint64_t fence, model_error *err);
    void (*destroy)(backend *b);
    /* The device's free and total memory, for sizing the KV pool by a fraction of it
     * (--gpu-memory-utilization); NULL where the backend's memory is the host's. */
    int (*mem_info)(backend *b, uint64_t *free_bytes, uint64_t *total_bytes, model_error *err);
} backend_ops;

/* Implementations embed this as their first member. */
struct backend {
    const backend_ops *ops;
    backend_kind kind;      /* BACKEND_CPU or BACKEND_CUDA, never AUTO */
    const model *m;
    char device_name[128];  /* "cpu (avx512, 2 threads)", "NVIDIA H200 (sm_90, 139 GiB)" */
};

/* A backend for model m (which must outlive it). n_threads and ks apply to the CPU (ks
 * NULL: kern_get(KERN_AUTO)). BACKEND_CUDA fails with a message naming the cause when this
 * build has no CUDA or no device is present; BACKEND_AUTO then falls back to the CPU. */
int backend_create(backend_kind kind, const model *m, int n_threads, const kern_set *ks,
                   backend **out, model_error *err) MODEL_MUST_CHECK;

static inline void backend_destroy(backend *b)
{
    if (b)
        b->ops->destroy(b);
}

/* A GPU's memory services for work outside the forward pass: what the engine lends the KV
 * offload library (kvspill.h's kvs_gpu_ops), with or without a backend on that GPU. Every
 * function first makes `device` current on the calling thread; those returning int return
 * 0 on success, else a code that error_string names. Implemented by the CUDA backend
 * (cuda/cuda_device.c). */
typedef struct backend_gpu_services {
    void *(*host_alloc)(int device, size_t bytes);   /* page-locked; NULL on failure */
    void (*host_free)(int device, void *p);
    void *(*device_alloc)(int device, size_t bytes); /* NULL on failure */
    void (*device_free)(int device, void *p);
    int (*bind_thread)(int device);
    /* Synchronous, on the calling thread's own stream. */
    int (*copy_to_host)(int device, void *dst, const void *src_device, size_t n);
    int (*copy_to_device)(int device, void *dst_device, const void *src, size_t n);
    const char *(*error_string)(int rc);
} backend_gpu_services;

/* The GPU services of this build; NULL in a build without CUDA. */
const backend_gpu_services *backend_gpu(void);
/* The GPU backend b runs on; -1 for a CPU backend. */
int backend_gpu_device(const backend *b);

#endif
