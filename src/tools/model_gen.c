#include "tools/model_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/quant_write.h"
#include "tools/vocab_gen.h"

#define GEN_MERGES 700
#define CHUNK_FLOATS (1u << 20)

typedef struct gen_tensor {
    char name[64];
    uint64_t ne[2];
    uint32_t n_dims, type;
    bool bias; /* a 1-D tensor that is a bias, not a norm weight */
} gen_tensor;

static const char *const arch_names[] = {
    [MODEL_GEN_LLAMA] = "llama",
    [MODEL_GEN_QWEN2] = "qwen2",
    [MODEL_GEN_QWEN3] = "qwen3",
};

/* ChatML with Qwen's default system prompt, as Qwen2.5's template renders a chat without
 * tools: a generated qwen model then has a template of its own, not the ChatML fallback. */
static const char qwen_template[] =
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}";

int model_gen_arch_parse(const char *s, model_gen_arch *out)
{
    for (size_t i = 0; i < sizeof arch_names / sizeof arch_names[0]; i++)
        if (!strcmp(s, arch_names[i])) {
            *out = (model_gen_arch)i;
            return 0;
        }
    return -1;
}

static uint32_t head_dim_of(const model_gen_params *p)
{
    return p->head_dim ? p->head_dim : p->n_embd / p->n_head;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float uniform(uint64_t *s) { return (float)(splitmix(s) >> 40) * (2.0f / 16777216.0f) - 1.0f; }

static int check_params(const model_gen_params *p, model_error *err)
{
    if (!p->n_layer || !p->n_embd || !p->n_head || !p->n_head_kv || !p->n_ff || !p->n_ctx)
        return model_fail(err, "model gen: layers, dim, heads, kv heads, ff and ctx must be > 0");
    if ((size_t)p->arch >= sizeof arch_names / sizeof arch_names[0])
        return model_fail(err, "model gen: unknown architecture %d", (int)p->arch);
    if (!p->head_dim && p->n_embd % p->n_head)
        return model_fail(err, "model gen: dim %u must split into %u heads", p->n_embd, p->n_head);
    if (head_dim_of(p) % 2 || head_dim_of(p) > 512)
        return model_fail(err, "model gen: head size %u must be even and at most 512", head_dim_of(p));
    if (p->n_head % p->n_head_kv)
        return model_fail(err, "model gen: heads (%u) must be a multiple of kv heads (%u)", p->n_head, p->n_head_kv);
    static const uint32_t types[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                     GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K};
    bool known = false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        known |= p->type == types[i];
    if (!known)
        return model_fail(err, "model gen: weight type %s not supported (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)",
                          ggml_type_name(p->type));
    if (p->mix == MODEL_GEN_Q4_K_M && p->type != GGML_TYPE_Q4_K)
        return model_fail(err, "model gen: the Q4_K_M mix needs weight type q4_k, not %s", ggml_type_name(p->type));
    uint32_t blk = ggml_type_block_elems(p->type);
    if (p->n_embd % blk || p->n_ff % blk || (p->n_head * head_dim_of(p)) % blk)
        return model_fail(err, "model gen: dim (%u), ff (%u) and heads x head size must be multiples of %u for %s (its block size)",
                          p->n_embd, p->n_ff, blk, ggml_type_name(p->type));
    if (!(p->rope_base > 0))
        return model_fail(err, "model gen: rope base must be > 0");
    return 0;
}

/* general.file_type: uniform Q4_K has no enum of its own; Q4_K_S (14), the nearest, is
 * what files that are Q4_K but for the norms carry. */
static uint32_t file_type_of(const model_gen_params *p)
{
    switch (p->type) {
    case GGML_TYPE_F16: return 1;
    case GGML_TYPE_Q4_0: return 2;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_Q4_K: return p->mix == MODEL_GEN_Q4_K_M ? 15 : 14;
    case GGML_TYPE_Q6_K: return 18;
    case GGML_TYPE_BF16: return 32;
    default: return 0;
    }
}

/* Layers that get more bits in the Q4_K_M mix: the first and last eighth (where errors
 * compound or reach the logits most directly) and every third layer in between. */
static bool more_bits(uint32_t layer, uint32_t n_layer)
{
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The type of 2-D weight `name` of layer `layer` (ignored outside the layers). */
static uint32_t weight_type(const model_gen_params *p, const char *name, uint32_t layer)
{
    if (p->mix != MODEL_GEN_Q4_K_M)
        return p->type;
    if (!strcmp(name, "output.weight"))
        return GGML_TYPE_Q6_K;
    if ((ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
        more_bits(layer, p->n_layer))
        return GGML_TYPE_Q6_K;
    return p->type;
}

/* Sets "ARCH.key" to v. */
static int set_arch_u32(gguf_writer *w, const model_gen_params *p, const char *key, uint32_t v)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", arch_names[p->arch], key);
    return gguf_writer_set_u32(w, full, v);
}

static int set_arch_f32(gguf_writer *w, const model_gen_params *p, const char *key, float v)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", arch_names[p->arch], key);
    return gguf_writer_set_f32(w, full, v);
}

static int set_metadata(gguf_writer *w, const model_gen_params *p, uint32_t *n_vocab, model_error *err)
{
    char name[64];
    snprintf(name, sizeof name, "kvspill-gen-seed%llu", (unsigned long long)p->seed);
    int rc = gguf_writer_set_str(w, "general.architecture", arch_names[p->arch]) ||
             gguf_writer_set_str(w, "general.name", name) ||
             gguf_writer_set_u32(w, "general.file_type", file_type_of(p)) ||
             set_arch_u32(w, p, "context_length", p->n_ctx) ||
             set_arch_u32(w, p, "embedding_length", p->n_embd) ||
             set_arch_u32(w, p, "block_count", p->n_layer) ||
             set_arch_u32(w, p, "feed_forward_length", p->n_ff) ||
             set_arch_u32(w, p, "attention.head_count", p->n_head) ||
             set_arch_u32(w, p, "attention.head_count_kv", p->n_head_kv) ||
             set_arch_u32(w, p, "rope.dimension_count", head_dim_of(p)) ||
             set_arch_f32(w, p, "rope.freq_base", p->rope_base) ||
             set_arch_f32(w, p, "attention.layer_norm_rms_epsilon", 1e-5f);
    if (rc == 0 && p->head_dim)
        rc = set_arch_u32(w, p, "attention.key_length", p->head_dim) ||
             set_arch_u32(w, p, "attention.value_length", p->head_dim);
    if (rc == 0 && p->type != GGML_TYPE_F32 && p->type != GGML_TYPE_F16 && p->type != GGML_TYPE_BF16)
        rc = gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (rc)
        return model_fail(err, "model gen: out of memory");
    if (p->vocab_style != VOCAB_GEN_CHATML && (p->vocab_from || p->arch != MODEL_GEN_LLAMA))
        return model_fail(err, "--vocab-style applies to a generated llama vocabulary only (not to qwen or --vocab-from)");
    if (!p->vocab_from) {
        if (vocab_gen_bpe(w, p->vocab_style, GEN_MERGES, n_vocab, err))
            return -1;
    } else {
        gguf_value_type et;
        uint64_t n;
        if (gguf_get_arr(p->vocab_from, "tokenizer.ggml.tokens", &et, &n) || et != GGUF_VT_STRING ||
            n == 0 || n > UINT32_MAX)
            return model_fail(err, "%s: no tokenizer.ggml.tokens to copy", gguf_path(p->vocab_from));
        *n_vocab = (uint32_t)n;
        for (uint64_t i = 0; i < gguf_n_keys(p->vocab_from); i++) {
            gguf_string k = gguf_key_name(p->vocab_from, (int64_t)i);
            if (k.len > 10 && !memcmp(k.ptr, "tokenizer.", 10) &&
                gguf_writer_copy_kv(w, p->vocab_from, (int64_t)i))
                return model_fail(err, "model gen: out of memory");
        }
    }
    /* A generated Qwen vocabulary splits words as Qwen's does, adds no BOS (Qwen's GGUFs
     * say add_bos_token false) and has a Qwen template. */
    if (!p->vocab_from && p->arch != MODEL_GEN_LLAMA &&
        (gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2") ||
         gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false) ||
         gguf_writer_set_str(w, "tokenizer.chat_template", qwen_template)))
        return model_fail(err, "model gen: out of memory");
    return set_arch_u32(w, p, "vocab_size", *n_vocab) ? model_fail(err, "model gen: out of memory") : 0;
}

static void add(gen_tensor *t, size_t *n, const char *name, uint64_t d0, uint64_t d1, uint32_t type)
{
    t[*n] = (gen_tensor){"", {d0, d1 ? d1 : 1}, d1 ? 2u : 1u, type, false};
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    (*n)++;
}

#define MAX_LAYER_TENSORS 12

/* Tensors in file order (d1 = 0: a 1-D tensor); returns the count, at most 3 +
 * MAX_LAYER_TENSORS per layer. */
static size_t list_tensors(const model_gen_params *p, uint32_t n_vocab, gen_tensor *t)
{
    uint64_t e = p->n_embd, hd = head_dim_of(p), qd = p->n_head * hd, kv = hd * p->n_head_kv;
    uint64_t ff = p->n_ff;
    /* name, input size (ne[0]), output size (ne[1]; 0 for a vector) */
    const struct { const char *name; uint64_t d0, d1; bool on; } per_layer[] = {
        {"attn_norm.weight", e, 0, true},
        {"attn_q.weight", e, qd, true},
        {"attn_k.weight", e, kv, true},
        {"attn_v.weight", e, kv, true},
        {"attn_q.bias", qd, 0, p->arch == MODEL_GEN_QWEN2},
        {"attn_k.bias", kv, 0, p->arch == MODEL_GEN_QWEN2},
        {"attn_v.bias", kv, 0, p->arch == MODEL_GEN_QWEN2},
        {"attn_q_norm.weight", hd, 0, p->arch == MODEL_GEN_QWEN3},
        {"attn_k_norm.weight", hd, 0, p->arch == MODEL_GEN_QWEN3},
        {"attn_output.weight", qd, e, true},
        {"ffn_norm.weight", e, 0, true},
        {"ffn_gate.weight", e, ff, true},
        {"ffn_up.weight", e, ff, true},
        {"ffn_down.weight", ff, e, true},
    };
    size_t n = 0;
    add(t, &n, "token_embd.weight", e, n_vocab, weight_type(p, "token_embd.weight", 0));
    for (uint32_t l = 0; l < p->n_layer; l++) {
        for (size_t k = 0; k < sizeof per_layer / sizeof per_layer[0]; k++) {
            if (!per_layer[k].on)
                continue;
            char name[64];
            snprintf(name, sizeof name, "blk.%u.%s", l, per_layer[k].name);
            uint64_t d1 = per_layer[k].d1;
            add(t, &n, name, per_layer[k].d0, d1, d1 ? weight_type(p, name, l) : GGML_TYPE_F32);
            t[n - 1].bias = ends_with(name, ".bias");
        }
    }
    add(t, &n, "output_norm.weight", e, 0, GGML_TYPE_F32);
    if (!p->tie_output)
        add(t, &n, "output.weight", e, n_vocab, weight_type(p, "output.weight", 0));
    return n;
}

/* Norm weights near 1, biases uniform in [-0.5, 0.5); other weights uniform with scale
 * 1/sqrt(input size). */
static int stream_tensor(gguf_writer *w, const model_gen_params *p, const gen_tensor *t, size_t idx,
                         float *buf, void *qbuf, model_error *err)
{
    uint64_t state = p->seed * 0x9E3779B97F4A7C15ull + idx;
    uint64_t cols = t->ne[0], rows = t->n_dims == 2 ? t->ne[1] : 1;
    bool norm = t->n_dims == 1 && !t->bias;
    float scale = norm ? 0.1f : t->bias ? 0.5f : 1.0f / sqrtf((float)cols);
    uint64_t rows_per_chunk = CHUNK_FLOATS / cols ? CHUNK_FLOATS / cols : 1;
    uint64_t row_bytes;
    uint64_t ne0[1] = {cols};
    if (ggml_tensor_nbytes(t->type, 1, ne0, &row_bytes))
        return model_fail(err, "model gen: tensor %s: bad shape", t->name);
    for (uint64_t r = 0; r < rows; r += rows_per_chunk) {
        uint64_t nr = rows - r < rows_per_chunk ? rows - r : rows_per_chunk;
        for (uint64_t i = 0; i < nr * cols; i++)
            buf[i] = (norm ? 1.0f : 0.0f) + scale * uniform(&state);
        for (uint64_t i = 0; i < nr; i++)
            if (quant_row(t->type, buf + i * cols, cols, (char *)qbuf + i * row_bytes))
                return model_fail(err, "model gen: tensor %s: cannot convert to %s", t->name,
                                  ggml_type_name(t->type));
        if (gguf_writer_stream(w, qbuf, nr * row_bytes, err))
            return -1;
    }
    return 0;
}

int model_gen_write(const model_gen_params *p, const char *path, model_gen_progress progress,
                    void *progress_ctx, model_error *err)
{
    if (check_params(p, err))
        return -1;
    gguf_writer *w = gguf_writer_new();
    size_t max_tensors = 3 + MAX_LAYER_TENSORS * (size_t)p->n_layer;
    gen_tensor *t = malloc(max_tensors * sizeof *t);
    /* a chunk holds at least one row: the widest row is max(dim, ff, heads x head size) */
    size_t widest = p->n_embd > p->n_ff ? p->n_embd : p->n_ff;
    size_t qd = (size_t)p->n_head * head_dim_of(p);
    size_t chunk = CHUNK_FLOATS + (widest > qd ? widest : qd);
    float *buf = malloc(chunk * sizeof *buf);
    void *qbuf = malloc(chunk * sizeof *buf);
    int rc = -1;
    if (!w || !t || !buf || !qbuf) {
        model_fail(err, "model gen: out of memory");
        goto out;
    }
    uint32_t n_vocab;
    if (set_metadata(w, p, &n_vocab, err))
        goto out;
    size_t n = list_tensors(p, n_vocab, t);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t sz;
        if (gguf_writer_declare_tensor(w, t[i].name, t[i].n_dims, t[i].ne, t[i].type) ||
            ggml_tensor_nbytes(t[i].type, t[i].n_dims, t[i].ne, &sz)) {
            model_fail(err, "model gen: tensor %s: invalid shape", t[i].name);
            goto out;
        }
        total += sz;
    }
    if (gguf_writer_begin(w, path, err))
        goto out;
    uint64_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (stream_tensor(w, p, &t[i], i, buf, qbuf, err))
            goto out;
        uint64_t sz;
        if (ggml_tensor_nbytes(t[i].type, t[i].n_dims, t[i].ne, &sz) == 0)
            done += sz;
        if (progress)
            progress(done, total, progress_ctx);
    }
    rc = gguf_writer_finish(w, err);
out:
    gguf_writer_free(w);
    free(t);
    free(buf);
    free(qbuf);
    return rc;
}
