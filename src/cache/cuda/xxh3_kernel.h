/* The launcher of the device XXH3 (cuda/xxh3.cu), callable from C: the checksum of the
 * chunk format (ARCHITECTURE.md §4) over a payload in GPU memory. */
#ifndef KVSPILL_CACHE_CUDA_XXH3_KERNEL_H
#define KVSPILL_CACHE_CUDA_XXH3_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Queues on s: *out (device memory) = XXH3-64, seed 0, of n bytes at in (device memory).
 * Returns cudaGetLastError() (launch errors; faults surface at the next synchronization). */
cudaError_t kvs_xxh3_launch(const void *in, size_t n, uint64_t *out, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
