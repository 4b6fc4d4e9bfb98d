/* A small C API over one CUDA device: pinned host memory, device memory, thread binding and
 * synchronous copies, which the layers above the model reach as backend.h's GPU services
 * (the engine lends them to the KV offload library; the checksum is the library's own,
 * kvs_xxh3_64_device). Every function first makes `device` current on the calling thread.
 * Functions returning int return 0 on success, else the cudaError_t that failed. */
#ifndef KVSPILL_MODEL_CUDA_CUDA_DEVICE_H
#define KVSPILL_MODEL_CUDA_CUDA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "model/backend.h"

/* These functions as backend.h's GPU services. */
extern const backend_gpu_services cuda_gpu_services;

/* Page-locked host memory (cudaHostAlloc); NULL on failure. */
void *cuda_host_alloc(int device, size_t bytes);
void cuda_host_free(int device, void *p);
/* Device memory (cudaMalloc); NULL on failure. */
void *cuda_device_alloc(int device, size_t bytes);
void cuda_device_free(int device, void *p);
/* cudaSetDevice(device) on the calling thread. */
int cuda_bind_thread(int device);
/* Synchronous copies on the calling thread's default stream. */
int cuda_copy_to_host(int device, void *dst, const void *src_device, size_t n);
int cuda_copy_to_device(int device, void *dst_device, const void *src, size_t n);
/* A human-readable name of a cuda_device.h return value. */
const char *cuda_device_error_string(int rc);

#endif
