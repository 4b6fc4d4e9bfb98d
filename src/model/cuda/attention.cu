// Causal GQA attention over the paged KV cache, for prefill and decode alike: one block of
// ATTN_WARPS warps per (token, head). Each warp walks every ATTN_WARPS-th position of the
// context [0, pos] with an online softmax (running max, running sum, rescaled accumulator);
// the warps' partial results are merged at the end. Lane j of a warp owns dimensions
// j, j + 32, ... of the head. Correctness first: a context of any length (32k tokens and
// more) is a loop, not a buffer.
#include <cuda_fp16.h>
#include <math.h>

#include "model/cuda/cuda_kernels.h"

namespace {

constexpr int ATTN_WARPS = 8;
constexpr int DIMS_PER_LANE = CUDA_ATTN_MAX_HEAD_DIM / 32;

template <typename T> __device__ float load(const T *p, size_t i);
template <> __device__ float load<float>(const float *p, size_t i) { return p[i]; }
template <> __device__ float load<__half>(const __half *p, size_t i) { return __half2float(p[i]); }

template <typename T>
__global__ void attention_kernel(const float *q, float *out, void *const *k_blocks,
                                 void *const *v_blocks, const uint32_t *blk_off,
                                 const uint32_t *pos, uint32_t n_head, uint32_t n_head_kv,
                                 uint32_t head_dim, uint32_t block_tokens)
{
    __shared__ float qs[CUDA_ATTN_MAX_HEAD_DIM];
    __shared__ float warp_max[ATTN_WARPS], warp_sum[ATTN_WARPS];
    __shared__ float warp_acc[ATTN_WARPS][CUDA_ATTN_MAX_HEAD_DIM];

    uint32_t t = blockIdx.x, h = blockIdx.y;
    uint32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t q_row = (size_t)n_head * head_dim;
    const float *qv = q + t * q_row + (size_t)h * head_dim;
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x)
        qs[d] = qv[d];
    __syncthreads();

    size_t row_elems = (size_t)n_head_kv * head_dim;
    size_t head_off = (size_t)(h / (n_head / n_head_kv)) * head_dim;
    void *const *kb = k_blocks + blk_off[t], *const *vb = v_blocks + blk_off[t];
    uint32_t n_ctx = pos[t] + 1;
    float scale = 1.0f / sqrtf((float)head_dim);

    float m = -INFINITY, l = 0.0f, acc[DIMS_PER_LANE];
    for (int i = 0; i < DIMS_PER_LANE; i++)
        acc[i] = 0.0f;
    for (uint32_t p = warp; p < n_ctx; p += ATTN_WARPS) {
        size_t off = (size_t)(p % block_tokens) * row_elems + head_off;
        const T *kr = (const T *)kb[p / block_tokens] + off;
        const T *vr = (const T *)vb[p / block_tokens] + off;
        float dot = 0.0f;
        for (int i = 0; i < DIMS_PER_LANE; i++) {
            uint32_t d = lane + 32 * i;
            if (d < head_dim)
                dot += qs[d] * load(kr, d);
        }
        for (int w = 16; w > 0; w /= 2)
            dot += __shfl_xor_sync(0xffffffffu, dot, w);
        float s = dot * scale;
        float m_new = fmaxf(m, s);
        float keep = expf(m - m_new), p_w = expf(s - m_new); // keep = 0 on the first key
        l = l * keep + p_w;
        for (int i = 0; i < DIMS_PER_LANE; i++) {
            uint32_t d = lane + 32 * i;
            if (d < head_dim)
                acc[i] = acc[i] * keep + p_w * load(vr, d);
        }
        m = m_new;
    }
    if (lane == 0) {
        warp_max[warp] = m;
        warp_sum[warp] = l;
    }
    for (int i = 0; i < DIMS_PER_LANE; i++) {
        uint32_t d = lane + 32 * i;
        if (d < head_dim)
            warp_acc[warp][d] = acc[i];
    }
    __syncthreads();

    // Warp 0 always saw position 0, so the overall max is finite; a warp that saw no
    // position (max -inf, sum 0) contributes exp(-inf) = 0.
    float mx = warp_max[0];
    for (int w = 1; w < ATTN_WARPS; w++)
        mx = fmaxf(mx, warp_max[w]);
    float total = 0.0f, weight[ATTN_WARPS];
    for (int w = 0; w < ATTN_WARPS; w++) {
        weight[w] = expf(warp_max[w] - mx);
        total += warp_sum[w] * weight[w];
    }
    float *o = out + t * q_row + (size_t)h * head_dim;
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float sum = 0.0f;
        for (int w = 0; w < ATTN_WARPS; w++)
            sum += warp_acc[w][d] * weight[w];
        o[d] = sum / total;
    }
}

} // namespace

extern "C" cudaError_t cuda_paged_attention(const float *q, float *out, void *const *k_blocks,
                                            void *const *v_blocks, const uint32_t *blk_off,
                                            const uint32_t *pos, uint32_t n_tok,
                                            uint32_t n_head, uint32_t n_head_kv,
                                            uint32_t head_dim, uint32_t block_tokens, bool f16,
                                            cudaStream_t s)
{
    dim3 grid(n_tok, n_head);
    if (f16)
        attention_kernel<__half><<<grid, 32 * ATTN_WARPS, 0, s>>>(
            q, out, k_blocks, v_blocks, blk_off, pos, n_head, n_head_kv, head_dim, block_tokens);
    else
        attention_kernel<float><<<grid, 32 * ATTN_WARPS, 0, s>>>(
            q, out, k_blocks, v_blocks, blk_off, pos, n_head, n_head_kv, head_dim, block_tokens);
    return cudaGetLastError();
}
