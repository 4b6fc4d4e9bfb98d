// Prelude for compiling the backend's .cu files with g++ (CPU emulation of the device).
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __constant__ static
#define __CUDA_ARCH__ 900 /* the portable headers take their device branches */

struct emu_thread_ctx {
    uint3 tid;
    unsigned shfl_phase; /* which of the warp's two slot sets this thread's next shuffle uses */
};
extern emu_thread_ctx *emu_cur;
extern uint3 emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
#define threadIdx (emu_cur->tid)
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim

void emu_block_barrier(void);
void emu_warp_barrier(void);
uint64_t *emu_warp_slots(unsigned phase); /* one of this thread's warp's 2 x 32 slots */
static inline void __syncthreads(void)
{
    emu_block_barrier();
}
static inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    (void)mask;
    emu_warp_barrier();
}

/* Every lane writes its value, the warp meets, every lane reads its source's. Shuffles
 * alternate between two slot sets: a lane can write a set again only after the whole warp
 * has met once more, by which time every lane has read it. */
template <typename T> static T emu_shfl(T v, unsigned src_lane)
{
    uint64_t *slot = emu_warp_slots(emu_cur->shfl_phase++ & 1);
    unsigned lane = threadIdx.x % 32;
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    slot[lane] = bits;
    emu_warp_barrier();
    T r;
    uint64_t got = slot[src_lane % 32];
    memcpy(&r, &got, sizeof r);
    return r;
}
template <typename T> static T __shfl_xor_sync(unsigned mask, T v, int lane_mask)
{
    if (mask != 0xffffffffu)
        abort();
    return emu_shfl(v, (threadIdx.x % 32) ^ (unsigned)lane_mask);
}
template <typename T> static T __shfl_sync(unsigned mask, T v, int src)
{
    if (mask != 0xffffffffu)
        abort();
    return emu_shfl(v, (unsigned)src);
}
static inline float __fmul_rn(float a, float b)
{
    volatile float p = a * b;
    return p;
}
static inline uint64_t __umul64hi(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

void emu_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                const std::function<void()> &body);
