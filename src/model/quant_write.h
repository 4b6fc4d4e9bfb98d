/* Conversions from f32 to the stored weight types, for writing GGUF files (`model gen`).
 * Dequantization for inference lives with the kernels. */
#ifndef KVSPILL_MODEL_QUANT_WRITE_H
#define KVSPILL_MODEL_QUANT_WRITE_H

#include <stddef.h>
#include <stdint.h>

uint16_t quant_f32_to_f16(float f);  /* round to nearest even; overflow to inf */
uint16_t quant_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
/* Converts n values (n a multiple of the type's block size) of type GGML_TYPE_F32, F16,
 * BF16 or Q8_0 into out (ggml_tensor_nbytes of the row); -1 for other types. */
int quant_row(uint32_t type, const float *x, size_t n, void *out);

#endif
