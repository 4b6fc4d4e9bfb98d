/* Conversions from f32 to the stored weight types, for writing GGUF files (`model gen`).
 * Dequantization for inference lives with the kernels. */
#ifndef KVSPILL_TOOLS_QUANT_WRITE_H
#define KVSPILL_TOOLS_QUANT_WRITE_H

#include <stddef.h>
#include <stdint.h>

uint16_t quant_f32_to_f16(float f);  /* round to nearest even; overflow to inf */
uint16_t quant_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
/* Converts n values (n a multiple of the type's block size) of type GGML_TYPE_F32, F16,
 * BF16, Q8_0, Q4_0, Q4_K or Q6_K into out (ggml_tensor_nbytes of the row); -1 for other
 * types or when n is not a whole number of blocks. */
int quant_row(uint32_t type, const float *x, size_t n, void *out);

/* The scale d minimising Σ(x − d·q)² over n values, q = round(x/d) clamped to
 * [qmin, qmax], found by a small search (quant_write.c); 0 for an all-zero x. */
float quant_symmetric_scale(const float *x, int n, int qmin, int qmax);

/* One K-quant super-block of 256 values (quant_k_write.c). */
void quant_block_q4_k(const float *x, uint8_t *out /* 144 bytes */);
void quant_block_q6_k(const float *x, uint8_t *out /* 210 bytes */);

#endif
