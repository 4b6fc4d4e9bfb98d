/* Writes a Llama-shaped GGUF with seeded random weights (`kvspill model gen`): the same
 * parameters and seed give the same bytes. Tensor data is generated and streamed to the
 * file a chunk at a time, so memory use stays small whatever the model size. */
#ifndef KVSPILL_TOOLS_MODEL_GEN_H
#define KVSPILL_TOOLS_MODEL_GEN_H

#include <stdint.h>

#include "model/model_error.h"
#include "tools/gguf_writer.h"

/* How the 2-D weights get their types (norms are always F32). */
typedef enum model_gen_mix {
    MODEL_GEN_UNIFORM, /* every 2-D weight is `type` */
    /* `type` must be Q4_K: the Q4_K_M mix of common downloads, with Q6_K where errors cost
     * most: output.weight, and attn_v and ffn_down of the first and last eighth of the
     * layers and of every third layer in between. */
    MODEL_GEN_Q4_K_M,
} model_gen_mix;

typedef struct model_gen_params {
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base;
    /* weights: GGML_TYPE_F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K. The K-quants need dim
     * and ff to be multiples of 256 (their block); other shapes are refused, not mixed. */
    uint32_t type;
    uint64_t seed;
    const gguf_file *vocab_from; /* copy its tokenizer.* keys; NULL: a generated BPE vocabulary */
    model_gen_mix mix;
} model_gen_params;

typedef void (*model_gen_progress)(uint64_t done_bytes, uint64_t total_bytes, void *ctx);

int model_gen_write(const model_gen_params *p, const char *path, model_gen_progress progress,
                    void *progress_ctx, model_error *err) MODEL_MUST_CHECK;

#endif
