/* cuda_device.h over the CUDA runtime. Copies run on the per-thread
 * default stream (cudaStreamPerThread), so I/O threads do not serialize on each other nor
 * wait for the backend's compute and copy streams. */
#include "model/cuda/cuda_device.h"

#include <cuda_runtime_api.h>

void *cuda_host_alloc(int device, size_t bytes)
{
    void *p = NULL;
    if (cudaSetDevice(device) != cudaSuccess ||
        cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess)
        return NULL;
    return p;
}

void cuda_host_free(int device, void *p)
{
    if (p && cudaSetDevice(device) == cudaSuccess)
        cudaFreeHost(p);
}

void *cuda_device_alloc(int device, size_t bytes)
{
    void *p = NULL;
    if (cudaSetDevice(device) != cudaSuccess || cudaMalloc(&p, bytes) != cudaSuccess)
        return NULL;
    return p;
}

void cuda_device_free(int device, void *p)
{
    if (p && cudaSetDevice(device) == cudaSuccess)
        cudaFree(p);
}

int cuda_bind_thread(int device) { return (int)cudaSetDevice(device); }

static int copy_sync(int device, void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(dst, src, n, kind, cudaStreamPerThread);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cudaStreamPerThread);
    return (int)e;
}

int cuda_copy_to_host(int device, void *dst, const void *src_device, size_t n)
{
    return copy_sync(device, dst, src_device, n, cudaMemcpyDeviceToHost);
}

int cuda_copy_to_device(int device, void *dst_device, const void *src, size_t n)
{
    return copy_sync(device, dst_device, src, n, cudaMemcpyHostToDevice);
}

const char *cuda_device_error_string(int rc) { return cudaGetErrorString((cudaError_t)rc); }

const backend_gpu_services cuda_gpu_services = {
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
    .device_alloc = cuda_device_alloc,
    .device_free = cuda_device_free,
    .bind_thread = cuda_bind_thread,
    .copy_to_host = cuda_copy_to_host,
    .copy_to_device = cuda_copy_to_device,
    .error_string = cuda_device_error_string,
};
