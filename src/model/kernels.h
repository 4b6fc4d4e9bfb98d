/* CPU kernels of the forward pass, as a table of function pointers chosen at run time
 * (scalar everywhere; AVX2/FMA/F16C and AVX-512 where the CPU has them).
 *
 * Matrix products take weights in their GGUF encoding and activations already converted to
 * the weight type's "activation format" (kern_act_format): F32 for F32/BF16 weights, F16
 * for F16 weights (the reference rounds activations to F16 there), and Q8 blocks of 32 for
 * the quantized types (the reference quantizes activations to 8 bits per 32 values). */
#ifndef KVSPILL_MODEL_KERNELS_H
#define KVSPILL_MODEL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Weight encodings the kernels handle (an index, not the ggml id). */
typedef enum kern_wtype {
    KW_F32,
    KW_F16,
    KW_BF16,
    KW_Q8_0,
    KW_Q4_0,
    KW_Q4_K,
    KW_Q6_K,
    KW_COUNT
} kern_wtype;

typedef enum kern_act_format { KA_F32, KA_F16, KA_Q8 } kern_act_format;

/* One block of 32 quantized activations: x ≈ d·q. sum = Σq (for the min terms of Q4_0
 * and Q4_K). d is rounded to F16 precision, as the reference stores it. */
typedef struct kern_q8_block {
    float d;
    int32_t sum;
    int8_t q[32];
} kern_q8_block;

#define KERN_Q8_BLOCK 32

/* Maps a ggml type id to a kern_wtype; -1 when unsupported. */
int kern_wtype_from_ggml(uint32_t id);
const char *kern_wtype_name(kern_wtype t);
uint32_t kern_wtype_block_elems(kern_wtype t);
uint32_t kern_wtype_block_bytes(kern_wtype t);
kern_act_format kern_wtype_act(kern_wtype t);
/* Bytes of one activation row of k values in format f (k a multiple of 32 for KA_Q8). */
size_t kern_act_row_bytes(kern_act_format f, int k);

/* y[t*y_stride + r] = dot(row r of w, activation row t), r < n_rows, t < n_tok.
 * w rows are w_stride bytes apart, activation rows a_stride bytes apart. */
typedef void (*kern_gemm_fn)(int k, const uint8_t *w, size_t w_stride, int n_rows,
                             const uint8_t *a, size_t a_stride, int n_tok, float *y,
                             size_t y_stride);

/* A kernel set's machine baselines, for bench engine's roofline: the same instruction set's
 * widest loads and the arithmetic of its products, measured apart from each other. */
typedef struct kern_probe {
    const char *name; /* the instruction set the figures were measured with */
    /* Reads the n bytes at p with independent accumulators; the result depends on every
     * byte, so the loads cannot be dropped. */
    uint64_t (*read)(const uint8_t *p, size_t n);
    /* n rounds of the float products' multiply-add, in registers; returns the flops done
     * (a multiply and an add each) and leaves a result in *sink. */
    double (*fma_f32)(long n, float *sink);
    /* The same for the int8 multiply-adds of the quantized products. */
    double (*dot_q8)(long n, int32_t *sink);
} kern_probe;

extern const kern_probe kern_scalar_probe;
extern const kern_probe kern_avx2_probe;

typedef struct kern_set {
    const char *name;
    /* Its baselines; the AVX-512 set has none of its own yet and names avx2's. */
    const kern_probe *probe;
    kern_gemm_fn gemm[KW_COUNT];
    /* Activation conversion of one row of k floats. */
    void (*act_f16)(const float *x, uint16_t *out, int k);
    void (*act_q8)(const float *x, kern_q8_block *out, int k);
    /* Attention against a block of n KV rows (row i at kv + i*stride elements, head_dim d):
     * scores[i] = scale·dot(q, k_i); out += Σ w[i]·v_i. KV elements are F16 or F32. */
    void (*attn_scores_f32)(const float *q, const float *k, size_t stride, int n, int d,
                            float scale, float *scores);
    void (*attn_scores_f16)(const float *q, const uint16_t *k, size_t stride, int n, int d,
                            float scale, float *scores);
    void (*attn_accum_f32)(const float *w, const float *v, size_t stride, int n, int d,
                           float *out);
    void (*attn_accum_f16)(const float *w, const uint16_t *v, size_t stride, int n, int d,
                           float *out);
    /* out[i] = silu(gate[i]) * up[i] */
    void (*swiglu)(const float *gate, const float *up, float *out, int n);
} kern_set;

typedef enum kern_kind { KERN_AUTO, KERN_SCALAR, KERN_AVX2, KERN_AVX512 } kern_kind;

/* The kernel set of a kind; NULL when this CPU (or build) cannot run it. KERN_AUTO picks
 * the best available (avx512, then avx2, then scalar), unless the environment says
 * KVSPILL_KERNELS=scalar|avx2|avx512. */
const kern_set *kern_get(kern_kind kind);
/* Parses "auto", "scalar", "avx2", "avx512"; -1 when unknown. */
int kern_kind_parse(const char *s, kern_kind *out);
const char *kern_kind_name(kern_kind kind);

extern const kern_set kern_scalar_set;
extern const kern_set kern_avx2_set;
/* Needs AVX-512 F/BW/VL/DQ and VNNI besides AVX2/FMA/F16C. */
extern const kern_set kern_avx512_set;

/* ---- Portable helpers (used by every set and by the model) ---- */

float kern_f16_to_f32(uint16_t h);
uint16_t kern_f32_to_f16(float f);
float kern_bf16_to_f32(uint16_t h);

/* Dequantizes one row of k values of type t. */
void kern_dequant_row(kern_wtype t, const uint8_t *row, float *out, int k);

void kern_rmsnorm(const float *x, const float *weight, float *out, int n, float eps);
void kern_softmax(float *x, int n);
/* Rotates adjacent pairs (x[2i], x[2i+1]), i < n_rot/2, of each of n_heads heads of
 * head_dim values by pos·base^(−2i/n_rot). */
void kern_rope_norm(float *x, int n_heads, int head_dim, int n_rot, int pos, float base);
/* The same angles on the pairs (x[i], x[i + n_rot/2]) (GPT-NeoX style: qwen2, qwen3). */
void kern_rope_neox(float *x, int n_heads, int head_dim, int n_rot, int pos, float base);

/* Q4_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed scale bytes.
 * Inline: the products decode 8 of them per 256 values of every row. */
static inline void kern_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Scalar implementations that vector sets reuse for parts they do not specialise. */
void kern_scalar_act_q8(const float *x, kern_q8_block *out, int k);
void kern_scalar_act_f16(const float *x, uint16_t *out, int k);

/* AVX2 kernels the AVX-512 set reuses, and the AVX-512 pieces split across its files. */
void kern_avx2_gemm_q4_k(int k, const uint8_t *w, size_t w_stride, int n_rows,
                         const uint8_t *a, size_t a_stride, int n_tok, float *y, size_t y_stride);
void kern_avx2_gemm_q6_k(int k, const uint8_t *w, size_t w_stride, int n_rows,
                         const uint8_t *a, size_t a_stride, int n_tok, float *y, size_t y_stride);
void kern_avx2_act_f16(const float *x, uint16_t *out, int k);
void kern_avx2_attn_scores_f32(const float *q, const float *k, size_t stride, int n, int d,
                               float scale, float *scores);
void kern_avx2_attn_scores_f16(const float *q, const uint16_t *k, size_t stride, int n, int d,
                               float scale, float *scores);
void kern_avx2_attn_accum_f32(const float *w, const float *v, size_t stride, int n, int d,
                              float *out);
void kern_avx2_attn_accum_f16(const float *w, const uint16_t *v, size_t stride, int n, int d,
                              float *out);
void kern_avx2_swiglu(const float *gate, const float *up, float *out, int n);
void kern_avx512_gemm_q8_0(int k, const uint8_t *w, size_t w_stride, int n_rows,
                           const uint8_t *a, size_t a_stride, int n_tok, float *y,
                           size_t y_stride);
void kern_avx512_gemm_q4_0(int k, const uint8_t *w, size_t w_stride, int n_rows,
                           const uint8_t *a, size_t a_stride, int n_tok, float *y,
                           size_t y_stride);
void kern_avx512_act_q8(const float *x, kern_q8_block *out, int k);
void kern_avx512_gemm_q4_k(int k, const uint8_t *w, size_t w_stride, int n_rows,
                           const uint8_t *a, size_t a_stride, int n_tok, float *y,
                           size_t y_stride);

#endif
