/* bench engine's baselines, measured in the same run as the figures they judge, with the
 * thread count of the run and the chosen kernel set's own instructions (kern_probe): the
 * read bandwidth over the model's mapped tensors, and the arithmetic peak of the products'
 * multiply-add (f32 FMA for float weights, the int8 dot for quantized ones). With them, the
 * work a forward pass must do: the bytes a decode step reads and the flops of a prefill. */
#ifndef KVSPILL_TOOLS_BENCH_ENGINE_ROOFLINE_H
#define KVSPILL_TOOLS_BENCH_ENGINE_ROOFLINE_H

#include <stdint.h>

#include "model/gguf.h"
#include "model/kernels.h"
#include "model/model.h"

typedef struct engine_roofline {
    const char *isa;         /* the instruction set the baselines ran */
    const char *peak_kind;   /* "fma_f32" or "dot_q8" */
    double read_gbs;         /* best of several reads of every tensor byte */
    double peak_gflops;      /* best of several runs of the multiply-add loop */
    double decode_bytes;     /* the tensor bytes one decode step reads */
} engine_roofline;

/* Measures the baselines for model m of file gf on ks with `threads` threads (each its own
 * contiguous part); -1 with the cause printed, prefixed with cmd, when a thread fails. */
int engine_roofline_measure(const char *cmd, const gguf_file *gf, const model *m,
                            const kern_set *ks, int threads, engine_roofline *out);

/* Flops of a prefill of n_prompt tokens from position 0 with n_out output rows: 2 per
 * weight of every layer matrix per token, the output matrix per output row, and
 * attention's scores and weighted sums over each token's causal prefix. */
double engine_prefill_flops(const gguf_file *gf, const model *m, uint32_t n_prompt,
                            uint32_t n_out);

#endif
