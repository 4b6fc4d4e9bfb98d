/* KVS_HD marks a function compiled for both the CPU and the GPU: __host__ __device__ under
 * nvcc, nothing in C. dequant_portable.h holds algorithms written once for both, so that
 * CPU unit tests check what the GPU runs (the cache's cuda/xxh3_portable.h does the same). */
#ifndef KVSPILL_MODEL_CUDA_HD_H
#define KVSPILL_MODEL_CUDA_HD_H

#ifdef __CUDACC__
#define KVS_HD __host__ __device__
#else
#define KVS_HD
#endif

#endif
