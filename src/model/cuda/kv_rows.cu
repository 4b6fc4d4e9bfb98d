// KV rows in paged blocks: the forward pass's store of new K/V rows, and the copies between
// blocks and a chunk payload (kv_transfer's gather and scatter).
#include <cuda_fp16.h>

#include "model/cuda/cuda_kernels.h"

namespace {

// Block t: token t's K and V rows (row_elems each) into its block at pos[t].
__global__ void kv_store_kernel(const float *k, const float *v, void *const *k_blocks,
                                void *const *v_blocks, const uint32_t *blk_off,
                                const uint32_t *pos, uint32_t row_elems, uint32_t block_tokens,
                                bool f16)
{
    uint32_t t = blockIdx.x, p = pos[t];
    uint32_t blk = blk_off[t] + p / block_tokens;
    size_t off = (size_t)(p % block_tokens) * row_elems;
    const float *ks = k + (size_t)t * row_elems, *vs = v + (size_t)t * row_elems;
    for (uint32_t i = threadIdx.x; i < row_elems; i += blockDim.x) {
        if (f16) {
            ((__half *)k_blocks[blk])[off + i] = __float2half_rn(ks[i]);
            ((__half *)v_blocks[blk])[off + i] = __float2half_rn(vs[i]);
        } else {
            ((float *)k_blocks[blk])[off + i] = ks[i];
            ((float *)v_blocks[blk])[off + i] = vs[i];
        }
    }
}

// Block (r, g): row r of segment g, in 16-bit units (every KV element is 2 or 4 bytes).
__global__ void kv_copy_rows_kernel(void *const *seg_blocks, uint32_t n_blk, uint8_t *payload,
                                    size_t pitch, uint32_t first, uint32_t block_tokens,
                                    size_t row_bytes, bool to_blocks)
{
    uint32_t r = blockIdx.x, g = blockIdx.y;
    uint32_t at = first + r;
    uint16_t *blk_row = (uint16_t *)((uint8_t *)seg_blocks[(size_t)g * n_blk + at / block_tokens] +
                                     (size_t)(at % block_tokens) * row_bytes);
    uint16_t *pay_row = (uint16_t *)(payload + (size_t)g * pitch + (size_t)r * row_bytes);
    size_t units = row_bytes / 2;
    for (size_t i = threadIdx.x; i < units; i += blockDim.x) {
        if (to_blocks)
            blk_row[i] = pay_row[i];
        else
            pay_row[i] = blk_row[i];
    }
}

} // namespace

extern "C" cudaError_t cuda_kv_store(const float *k, const float *v, void *const *k_blocks,
                                     void *const *v_blocks, const uint32_t *blk_off,
                                     const uint32_t *pos, uint32_t n_tok, uint32_t row_elems,
                                     uint32_t block_tokens, bool f16, cudaStream_t s)
{
    kv_store_kernel<<<n_tok, 128, 0, s>>>(k, v, k_blocks, v_blocks, blk_off, pos, row_elems,
                                          block_tokens, f16);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_kv_copy_rows(void *const *seg_blocks, uint32_t n_blk,
                                         uint8_t *payload, size_t pitch, uint32_t n_seg,
                                         uint32_t first, uint32_t n_rows, uint32_t block_tokens,
                                         size_t row_bytes, bool to_blocks, cudaStream_t s)
{
    if (n_rows == 0 || n_seg == 0)
        return cudaSuccess;
    dim3 grid(n_rows, n_seg);
    kv_copy_rows_kernel<<<grid, 128, 0, s>>>(seg_blocks, n_blk, payload, pitch, first,
                                             block_tokens, row_bytes, to_blocks);
    return cudaGetLastError();
}
