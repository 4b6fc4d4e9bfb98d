// The per-row and pointwise steps of a layer, computed as kernels_common.c and the scalar
// kernel set compute them on the CPU (RMSNorm sums squares in double; RoPE angles in double).
#include <cuda_fp16.h>

#include "model/cuda/cuda_kernels.h"

namespace {

constexpr int NORM_THREADS = 256;

__global__ void rmsnorm_kernel(const float *x, const uint32_t *rows, const float *weight,
                               float *out, uint32_t n, float eps)
{
    __shared__ double partial[NORM_THREADS];
    const float *in = x + (size_t)(rows ? rows[blockIdx.x] : blockIdx.x) * n;
    double ss = 0.0;
    for (uint32_t i = threadIdx.x; i < n; i += NORM_THREADS)
        ss += (double)in[i] * (double)in[i];
    partial[threadIdx.x] = ss;
    __syncthreads();
    for (int w = NORM_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w)
            partial[threadIdx.x] += partial[threadIdx.x + w];
        __syncthreads();
    }
    float scale = (float)(1.0 / sqrt(partial[0] / n + (double)eps));
    float *o = out + (size_t)blockIdx.x * n;
    for (uint32_t i = threadIdx.x; i < n; i += NORM_THREADS)
        o[i] = in[i] * scale * weight[i];
}

// The products are rounded on their own (__fmul_rn is never contracted into a fused
// multiply-add), as kern_rope_norm's are on the CPU.
__device__ void rotate_heads(float *x, uint32_t n_heads, uint32_t head_dim, uint32_t i, float c,
                             float s)
{
    for (uint32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim + 2 * i;
        float a = v[0], b = v[1];
        v[0] = __fmul_rn(a, c) - __fmul_rn(b, s);
        v[1] = __fmul_rn(a, s) + __fmul_rn(b, c);
    }
}

// One block per token; thread i rotates pair i of every head of q and k.
__global__ void rope_kernel(float *q, float *k, const uint32_t *pos, uint32_t n_head,
                            uint32_t n_head_kv, uint32_t head_dim, uint32_t n_rot, float base)
{
    uint32_t t = blockIdx.x;
    for (uint32_t i = threadIdx.x; i < n_rot / 2; i += blockDim.x) {
        double theta = (double)pos[t] * pow((double)base, -2.0 * i / n_rot);
        float c = (float)cos(theta), s = (float)sin(theta);
        rotate_heads(q + (size_t)t * n_head * head_dim, n_head, head_dim, i, c, s);
        rotate_heads(k + (size_t)t * n_head_kv * head_dim, n_head_kv, head_dim, i, c, s);
    }
}

#define GRID_STRIDE(i, n)                                                                   \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                 \
         i += (size_t)gridDim.x * blockDim.x)

__global__ void swiglu_kernel(float *gate, const float *up, size_t n)
{
    GRID_STRIDE(i, n) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

__global__ void add_kernel(float *x, const float *y, size_t n)
{
    GRID_STRIDE(i, n) x[i] += y[i];
}

__global__ void f32_to_f16_kernel(const float *x, __half *out, size_t n)
{
    GRID_STRIDE(i, n) out[i] = __float2half_rn(x[i]);
}

unsigned grid_for(size_t n)
{
    size_t blocks = (n + 255) / 256;
    return (unsigned)(blocks < 65536 ? (blocks ? blocks : 1) : 65536);
}

} // namespace

extern "C" cudaError_t cuda_rmsnorm(const float *x, const uint32_t *rows, const float *weight,
                                    float *out, uint32_t n_rows, uint32_t n, float eps,
                                    cudaStream_t s)
{
    rmsnorm_kernel<<<n_rows, NORM_THREADS, 0, s>>>(x, rows, weight, out, n, eps);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_rope_norm(float *q, float *k, const uint32_t *pos, uint32_t n_tok,
                                      uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                      uint32_t n_rot, float base, cudaStream_t s)
{
    rope_kernel<<<n_tok, 128, 0, s>>>(q, k, pos, n_head, n_head_kv, head_dim, n_rot, base);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_swiglu(float *gate, const float *up, size_t n, cudaStream_t s)
{
    swiglu_kernel<<<grid_for(n), 256, 0, s>>>(gate, up, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_add(float *x, const float *y, size_t n, cudaStream_t s)
{
    add_kernel<<<grid_for(n), 256, 0, s>>>(x, y, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_f32_to_f16(const float *x, uint16_t *out, size_t n, cudaStream_t s)
{
    f32_to_f16_kernel<<<grid_for(n), 256, 0, s>>>(x, (__half *)out, n);
    return cudaGetLastError();
}
