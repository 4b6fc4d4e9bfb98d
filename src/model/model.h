/* A decoder-only transformer loaded from a GGUF file (architectures llama, qwen2, qwen3):
 * hyperparameters and weight views into the file's mapping (the gguf_file must outlive the
 * model). The architectures differ only in the features flagged below. */
#ifndef KVSPILL_MODEL_MODEL_H
#define KVSPILL_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"
#include "model/kernels.h"
#include "model/model_error.h"

/* How RoPE pairs a head's dimensions; the values are ggml's rope types (namespace keys). */
typedef enum model_rope_style {
    MODEL_ROPE_NORM = 0, /* adjacent pairs (x[2i], x[2i+1]): llama */
    MODEL_ROPE_NEOX = 2, /* halves (x[i], x[i + n_rot/2]): qwen2, qwen3 */
} model_rope_style;

typedef struct model_hparams {
    uint32_t n_layer;
    uint32_t n_embd;
    uint32_t n_ff;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;  /* attention.key_length, else n_embd / n_head */
    uint32_t q_dim;     /* n_head * head_dim: width of Q and of attn_output's input */
    uint32_t n_rot;     /* rotated dimensions per head (rope.dimension_count) */
    uint32_t n_ctx_train;
    uint32_t n_vocab;
    float rms_eps;
    float rope_base;
    model_rope_style rope_style;
} model_hparams;

/* A 2-D weight: n_rows rows of n_cols values, row r at data + r*row_bytes. */
typedef struct model_weight {
    kern_wtype type;
    uint32_t n_rows, n_cols;
    size_t row_bytes;
    const uint8_t *data;
} model_weight;

typedef struct model_layer {
    float *attn_norm; /* n_embd, converted to F32 at load */
    float *ffn_norm;
    model_weight wq, wk, wv, wo;
    float *bq, *bk, *bv;     /* q_dim, kv dims: qwen2's QKV bias; NULL where absent */
    float *q_norm, *k_norm;  /* head_dim: qwen3's per-head RMSNorm of Q and K; or NULL */
    model_weight w_gate, w_up, w_down;
} model_layer;

typedef struct model {
    model_hparams hp;
    char arch[32]; /* "llama", "qwen2", "qwen3" */
    model_weight tok_embd;
    model_weight output; /* token_embd itself when the file ties the output */
    int output_tied;
    float *output_norm;
    model_layer *layers;
    const gguf_file *gf;
} model;

/* Loads architecture llama, qwen2 or qwen3. Every tensor is checked for presence, shape and type;
 * errors name the tensor ("blk.3.attn_k.weight: shape [64, 48], expected [64, 32]"). */
int model_load(const gguf_file *gf, model **out, model_error *err) MODEL_MUST_CHECK;
void model_free(model *m);

/* Human-readable "F32", "Q8_0", ... for the dominant weight type (that of blk.0.attn_q). */
const char *model_weight_type_name(const model *m);

#endif
