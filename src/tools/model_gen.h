/* Writes a GGUF of architecture llama, qwen2 or qwen3 with seeded random weights (`kvspill
 * model gen`): the same parameters and seed give the same bytes. Tensor data is generated and streamed to the
 * file a chunk at a time, so memory use stays small whatever the model size. */
#ifndef KVSPILL_TOOLS_MODEL_GEN_H
#define KVSPILL_TOOLS_MODEL_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model_error.h"
#include "tools/vocab_gen.h"
#include "tools/gguf_writer.h"

/* How the 2-D weights get their types (norms are always F32). */
typedef enum model_gen_mix {
    MODEL_GEN_UNIFORM, /* every 2-D weight is `type` */
    /* `type` must be Q4_K: the Q4_K_M mix of common downloads, with Q6_K where errors cost
     * most: output.weight, and attn_v and ffn_down of the first and last eighth of the
     * layers and of every third layer in between. */
    MODEL_GEN_Q4_K_M,
} model_gen_mix;

typedef enum model_gen_arch {
    MODEL_GEN_LLAMA, /* adjacent-pair RoPE */
    MODEL_GEN_QWEN2, /* + attn_{q,k,v}.bias, NeoX RoPE, the qwen2 pre-tokenizer, a Qwen template */
    MODEL_GEN_QWEN3, /* + attn_{q,k}_norm.weight instead of the biases */
} model_gen_arch;

/* "llama", "qwen2", "qwen3": the GGUF architecture name; -1 when unknown. */
int model_gen_arch_parse(const char *s, model_gen_arch *out);

typedef struct model_gen_params {
    model_gen_arch arch;
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    uint32_t head_dim; /* 0: n_embd / n_head; else written as attention.key_length (Qwen3's) */
    bool tie_output;   /* no output.weight: the output is token_embd (small Qwen models) */
    float rope_base;
    /* weights: GGML_TYPE_F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K. The K-quants need dim
     * and ff to be multiples of 256 (their block); other shapes are refused, not mixed. */
    uint32_t type;
    uint64_t seed;
    const gguf_file *vocab_from; /* copy its tokenizer.* keys; NULL: a generated BPE vocabulary */
    vocab_gen_style vocab_style; /* of the generated vocabulary (llama only; qwen: Qwen's) */
    model_gen_mix mix;
} model_gen_params;

typedef void (*model_gen_progress)(uint64_t done_bytes, uint64_t total_bytes, void *ctx);

int model_gen_write(const model_gen_params *p, const char *path, model_gen_progress progress,
                    void *progress_ctx, model_error *err) MODEL_MUST_CHECK;

#endif
