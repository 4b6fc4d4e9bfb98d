// Weight decoding on the device (dequant_portable.h): at load to expand weights into
// F16/F32 matrices, and per step to look up embedding rows kept in their GGUF encoding.
#include <cuda_fp16.h>

#include "model/cuda/cuda_kernels.h"
#include "model/cuda/dequant_portable.h"

namespace {

__global__ void dequant_rows_kernel(kern_wtype t, const uint8_t *src, size_t row_bytes,
                                    uint32_t n_rows, uint32_t n_cols, void *dst, bool dst_f16)
{
    size_t total = (size_t)n_rows * n_cols;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t r = idx / n_cols;
        uint32_t c = (uint32_t)(idx % n_cols);
        float v = kvs_dequant_value(t, src + r * row_bytes, c);
        if (dst_f16)
            ((__half *)dst)[idx] = __float2half_rn(v);
        else
            ((float *)dst)[idx] = v;
    }
}

__global__ void embed_rows_kernel(kern_wtype t, const uint8_t *table, size_t row_bytes,
                                  const int32_t *tokens, uint32_t n_cols, float *x)
{
    const uint8_t *row = table + (size_t)tokens[blockIdx.x] * row_bytes;
    for (uint32_t c = threadIdx.x; c < n_cols; c += blockDim.x)
        x[(size_t)blockIdx.x * n_cols + c] = kvs_dequant_value(t, row, c);
}

} // namespace

extern "C" cudaError_t cuda_dequant_rows(kern_wtype t, const uint8_t *src, size_t row_bytes,
                                         uint32_t n_rows, uint32_t n_cols, void *dst,
                                         bool dst_f16, cudaStream_t s)
{
    size_t total = (size_t)n_rows * n_cols;
    if (total == 0)
        return cudaSuccess;
    size_t blocks = (total + 255) / 256;
    dequant_rows_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, s>>>(
        t, src, row_bytes, n_rows, n_cols, dst, dst_f16);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_embed_rows(kern_wtype t, const uint8_t *table, size_t row_bytes,
                                       const int32_t *tokens, uint32_t n_tok, uint32_t n_cols,
                                       float *x, cudaStream_t s)
{
    embed_rows_kernel<<<n_tok, 256, 0, s>>>(t, table, row_bytes, tokens, n_cols, x);
    return cudaGetLastError();
}
