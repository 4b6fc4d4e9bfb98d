/* kvs_xxh3_64_device: the chunk checksum over GPU memory, the library's one piece of CUDA
 * (cuda/xxh3.cu, built with the CUDA backend). It runs on the calling thread's per-thread
 * default stream, so I/O threads do not serialize on each other nor wait for the engine's
 * compute and copy streams. */
#include "kvspill.h"

#include "cache/error.h"

#ifdef KVSPILL_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cache/cuda/xxh3_kernel.h"

kvs_status kvs_xxh3_64_device(const void *src_device, size_t n, uint64_t *out, kvs_error *err)
{
    cudaStream_t s = cudaStreamPerThread;
    uint64_t *result = NULL;
    cudaError_t e = cudaMallocAsync((void **)&result, sizeof *result, s);
    if (e != cudaSuccess)
        return kvs_fail(err, KVS_ERR_IO, "device XXH3 of %zu bytes: cudaMallocAsync: %s", n,
                        cudaGetErrorString(e));
    (void)cudaGetLastError(); /* a stale error of an earlier call is not this launch's */
    e = kvs_xxh3_launch(src_device, n, result, s);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(out, result, sizeof *out, cudaMemcpyDeviceToHost, s);
    cudaError_t freed = cudaFreeAsync(result, s);
    if (e == cudaSuccess)
        e = freed;
    cudaError_t synced = cudaStreamSynchronize(s);
    if (e == cudaSuccess)
        e = synced;
    if (e != cudaSuccess)
        return kvs_fail(err, KVS_ERR_IO, "device XXH3 of %zu bytes: %s", n,
                        cudaGetErrorString(e));
    return KVS_OK;
}
#else
kvs_status kvs_xxh3_64_device(const void *src_device, size_t n, uint64_t *out, kvs_error *err)
{
    (void)src_device;
    (void)out;
    return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device XXH3 of %zu bytes: this build has no CUDA "
                    "(nvcc was not found when it was configured)", n);
}
#endif
