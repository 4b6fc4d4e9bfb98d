// Weight decoding on the device: one value of a row of any GGUF encoding the CPU handles,
// read byte by byte (rows need not be aligned) exactly as kernels_common.c's
// kern_dequant_row decodes it. Used at load to expand weights into F16/F32 matrices, and
// per step to look up embedding rows kept in their GGUF encoding.
#include <cuda_fp16.h>

#include "model/cuda/cuda_kernels.h"

namespace {

__device__ uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

__device__ float f16(const uint8_t *p) { return __half2float(__ushort_as_half(rd16(p))); }

__device__ float f32(const uint8_t *p)
{
    return __uint_as_float((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
}

// Q4_K: the 6-bit scale and min of sub-block j (kern_q4k_scale_min).
__device__ void q4k_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Value i of a row of type t.
__device__ float dequant_value(kern_wtype t, const uint8_t *row, uint32_t i)
{
    switch (t) {
    case KW_F32: return f32(row + 4 * (size_t)i);
    case KW_F16: return f16(row + 2 * (size_t)i);
    case KW_BF16: return __uint_as_float((uint32_t)rd16(row + 2 * (size_t)i) << 16);
    case KW_Q8_0: {
        const uint8_t *b = row + 34 * (size_t)(i / 32);
        return f16(b) * (float)(int8_t)b[2 + i % 32];
    }
    case KW_Q4_0: {
        const uint8_t *b = row + 18 * (size_t)(i / 32);
        uint32_t j = i % 32;
        int q = j < 16 ? (b[2 + j] & 0xf) : (b[2 + j - 16] >> 4);
        return f16(b) * (float)(q - 8);
    }
    case KW_Q4_K: {
        // 4 chunks of 64 values: 32 low nibbles (sub-block 2c), then 32 high (2c+1).
        const uint8_t *b = row + 144 * (size_t)(i / 256);
        uint32_t e = i % 256, c = e / 64, hi = (e % 64) / 32, l = e % 32;
        int sc, m;
        q4k_scale_min(b + 4, (int)(2 * c + hi), &sc, &m);
        uint8_t byte = b[16 + 32 * c + l];
        int q = hi ? byte >> 4 : byte & 0xf;
        return f16(b) * (float)sc * (float)q - f16(b + 2) * (float)m;
    }
    case KW_Q6_K: {
        // Two halves of 128 values; each half is four groups of 32 (g) with the low 4 bits
        // in ql (group g & 1 selects the byte, g >> 1 the nibble), the high 2 bits in qh
        // (bits 2g), and an int8 scale per 16 values.
        const uint8_t *b = row + 210 * (size_t)(i / 256);
        uint32_t e = i % 256, half = e / 128, g = (e % 128) / 32, l = e % 32;
        const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * half);
        int lo = (ql[l + 32 * (g & 1)] >> (4 * (g >> 1))) & 0xf;
        int q = (lo | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
        return f16(b + 208) * (float)sc[l / 16 + 2 * g] * (float)q;
    }
    case KW_COUNT: break;
    }
    return 0.0f;
}

__global__ void dequant_rows_kernel(kern_wtype t, const uint8_t *src, size_t row_bytes,
                                    uint32_t n_rows, uint32_t n_cols, void *dst, bool dst_f16)
{
    size_t total = (size_t)n_rows * n_cols;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t r = idx / n_cols;
        uint32_t c = (uint32_t)(idx % n_cols);
        float v = dequant_value(t, src + r * row_bytes, c);
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
        x[(size_t)blockIdx.x * n_cols + c] = dequant_value(t, row, c);
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
