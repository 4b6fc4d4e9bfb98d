/* Launchers of the backend's kernels (the .cu files of this folder), callable from C. Each
 * queues its kernel on `s` and returns cudaGetLastError() (launch errors; faults surface at
 * the next synchronization). F16 data is passed as uint16_t (IEEE binary16 bits). */
#ifndef KVSPILL_MODEL_CUDA_CUDA_KERNELS_H
#define KVSPILL_MODEL_CUDA_CUDA_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "model/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head_dim the attention kernel handles (registers per lane). */
#define CUDA_ATTN_MAX_HEAD_DIM 256

/* ---- dequant.cu: GGUF encodings, decoded exactly as kernels_common.c does ---- */

/* n_rows rows of n_cols values of type t (row r at src + r·row_bytes) into dst, dense
 * row-major, as F16 (dst_f16) or F32. */
cudaError_t cuda_dequant_rows(kern_wtype t, const uint8_t *src, size_t row_bytes,
                              uint32_t n_rows, uint32_t n_cols, void *dst, bool dst_f16,
                              cudaStream_t s);
/* x[i] = row tokens[i] of the embedding table (type t), n_tok rows of n_cols floats. */
cudaError_t cuda_embed_rows(kern_wtype t, const uint8_t *table, size_t row_bytes,
                            const int32_t *tokens, uint32_t n_tok, uint32_t n_cols, float *x,
                            cudaStream_t s);

/* ---- layer_kernels.cu: the pointwise and per-row steps of a layer ---- */

/* out row r = RMSNorm(x row (rows ? rows[r] : r)) · weight, n_rows rows of n values. */
cudaError_t cuda_rmsnorm(const float *x, const uint32_t *rows, const float *weight,
                         float *out, uint32_t n_rows, uint32_t n, float eps, cudaStream_t s);
/* Rotates adjacent pairs (kern_rope_norm) of q (n_head heads) and k (n_head_kv heads) of
 * each of n_tok tokens at its position pos[t]. */
cudaError_t cuda_rope_norm(float *q, float *k, const uint32_t *pos, uint32_t n_tok,
                           uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                           uint32_t n_rot, float base, cudaStream_t s);
/* gate[i] = silu(gate[i]) · up[i] */
cudaError_t cuda_swiglu(float *gate, const float *up, size_t n, cudaStream_t s);
/* x[i] += y[i] */
cudaError_t cuda_add(float *x, const float *y, size_t n, cudaStream_t s);
/* out[i] = f16(x[i]), round to nearest even */
cudaError_t cuda_f32_to_f16(const float *x, uint16_t *out, size_t n, cudaStream_t s);

/* ---- kv_rows.cu and attention.cu: the paged KV cache ----
 * Block pointers come as tables of device pointers: blocks[i] is the K (or V) rows of one
 * layer for one block. A token's blocks are blocks[blk_off[t] + p / block_tokens] for its
 * positions p; a row holds row_elems = n_head_kv·head_dim elements, F16 or F32. */

/* Writes k and v rows (F32, row_elems per token) of n_tok tokens at positions pos[t]. */
cudaError_t cuda_kv_store(const float *k, const float *v, void *const *k_blocks,
                          void *const *v_blocks, const uint32_t *blk_off, const uint32_t *pos,
                          uint32_t n_tok, uint32_t row_elems, uint32_t block_tokens, bool f16,
                          cudaStream_t s);

/* out (n_tok × n_head·head_dim) = causal GQA attention of q over positions [0, pos[t]]
 * of each token's sequence, softmax in F32, scale 1/sqrt(head_dim). */
cudaError_t cuda_paged_attention(const float *q, float *out, void *const *k_blocks,
                                 void *const *v_blocks, const uint32_t *blk_off,
                                 const uint32_t *pos, uint32_t n_tok, uint32_t n_head,
                                 uint32_t n_head_kv, uint32_t head_dim, uint32_t block_tokens,
                                 bool f16, cudaStream_t s);

/* Copies n_rows rows of row_bytes between blocks and a layer-major payload: segment g
 * (g < n_seg; 2l for layer l's K, 2l+1 for its V) has its first row at payload + g·pitch and
 * its block table at seg_blocks + g·n_blk. Row r lives in block (first + r) / block_tokens of
 * that table, row (first + r) % block_tokens, where first < block_tokens is the row in the
 * table's first block where the range starts. */
cudaError_t cuda_kv_copy_rows(void *const *seg_blocks, uint32_t n_blk, uint8_t *payload,
                              size_t pitch, uint32_t n_seg, uint32_t first, uint32_t n_rows,
                              uint32_t block_tokens, size_t row_bytes, bool to_blocks,
                              cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
