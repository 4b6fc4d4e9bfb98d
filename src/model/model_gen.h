/* Writes a Llama-shaped GGUF with seeded random weights (`kvspill model gen`): the same
 * parameters and seed give the same bytes. Tensor data is generated and streamed to the
 * file a chunk at a time, so memory use stays small whatever the model size. */
#ifndef KVSPILL_MODEL_MODEL_GEN_H
#define KVSPILL_MODEL_MODEL_GEN_H

#include <stdint.h>

#include "model/gguf.h"
#include "model/model_error.h"

typedef struct model_gen_params {
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base;
    uint32_t type;               /* weights: GGML_TYPE_F32, F16, BF16 or Q8_0; norms are F32 */
    uint64_t seed;
    const gguf_file *vocab_from; /* copy its tokenizer.* keys; NULL: a generated BPE vocabulary */
} model_gen_params;

typedef void (*model_gen_progress)(uint64_t done_bytes, uint64_t total_bytes, void *ctx);

int model_gen_write(const model_gen_params *p, const char *path, model_gen_progress progress,
                    void *progress_ctx, model_error *err) MODEL_MUST_CHECK;

#endif
