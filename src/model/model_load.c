/* Loading architectures `llama` (Llama 2/3, Mistral, TinyLlama), `qwen2` (Qwen2, Qwen2.5)
 * and `qwen3` from GGUF metadata and tensors, with every shape and type checked before the
 * forward pass may trust it. */
#include "model/model.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What sets an architecture apart from llama. */
typedef struct arch_desc {
    const char *name;
    model_rope_style rope;
    bool qkv_bias; /* blk.N.attn_{q,k,v}.bias */
    bool qk_norm;  /* blk.N.attn_{q,k}_norm.weight, RMSNorm of each head before RoPE */
} arch_desc;

static const arch_desc archs[] = {
    {"llama", MODEL_ROPE_NORM, false, false},
    {"qwen2", MODEL_ROPE_NEOX, true, false},
    {"qwen3", MODEL_ROPE_NEOX, false, true},
};

static const arch_desc *arch_find(const gguf_string *name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strlen(archs[i].name) == name->len && !memcmp(archs[i].name, name->ptr, name->len))
            return &archs[i];
    return NULL;
}

static const char *src_name(const gguf_file *gf)
{
    const char *p = gguf_path(gf);
    return p && *p ? p : "gguf";
}

static int get_u32(const gguf_file *gf, const char *arch, const char *key, uint32_t *out,
                   int required, model_error *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (gguf_find_key(gf, full) < 0) {
        if (required)
            return model_fail(err, "%s: metadata %s: missing", src_name(gf), full);
        return 0;
    }
    if (gguf_get_u32(gf, full, out) != 0)
        return model_fail(err, "%s: metadata %s: not an unsigned 32-bit integer", src_name(gf),
                          full);
    return 0;
}

static int get_f32(const gguf_file *gf, const char *arch, const char *key, float *out,
                   model_error *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (gguf_find_key(gf, full) < 0)
        return 0;
    if (gguf_get_f32(gf, full, out) != 0)
        return model_fail(err, "%s: metadata %s: not a float", src_name(gf), full);
    return 0;
}

static int load_hparams(const gguf_file *gf, const char *arch, model_hparams *hp,
                        model_error *err)
{
    memset(hp, 0, sizeof *hp);
    hp->rms_eps = 1e-5f;
    hp->rope_base = 10000.0f;
    if (get_u32(gf, arch, "block_count", &hp->n_layer, 1, err) ||
        get_u32(gf, arch, "embedding_length", &hp->n_embd, 1, err) ||
        get_u32(gf, arch, "feed_forward_length", &hp->n_ff, 1, err) ||
        get_u32(gf, arch, "attention.head_count", &hp->n_head, 1, err) ||
        get_u32(gf, arch, "context_length", &hp->n_ctx_train, 1, err))
        return -1;
    hp->n_head_kv = hp->n_head;
    if (get_u32(gf, arch, "attention.head_count_kv", &hp->n_head_kv, 0, err) ||
        get_f32(gf, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps, err) ||
        get_f32(gf, arch, "rope.freq_base", &hp->rope_base, err))
        return -1;
    const char *f = src_name(gf);
    if (hp->n_layer == 0 || hp->n_layer > 1024)
        return model_fail(err, "%s: %s.block_count %u out of range [1, 1024]", f, arch,
                          hp->n_layer);
    if (hp->n_embd == 0 || hp->n_embd > 65536 || hp->n_ff == 0 || hp->n_ff > 262144)
        return model_fail(err, "%s: embedding_length %u / feed_forward_length %u out of range",
                          f, hp->n_embd, hp->n_ff);
    if (hp->n_head == 0 || hp->n_embd % hp->n_head != 0)
        return model_fail(err, "%s: %s.attention.head_count %u does not divide embedding_length %u",
                          f, arch, hp->n_head, hp->n_embd);
    if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
        return model_fail(err, "%s: %s.attention.head_count_kv %u does not divide head_count %u",
                          f, arch, hp->n_head_kv, hp->n_head);
    /* Qwen3 heads are wider than n_embd / n_head: attention.key_length says so. */
    hp->head_dim = hp->n_embd / hp->n_head;
    uint32_t v_len = 0;
    if (get_u32(gf, arch, "attention.key_length", &hp->head_dim, 0, err) ||
        get_u32(gf, arch, "attention.value_length", &v_len, 0, err))
        return -1;
    if (hp->head_dim == 0 || hp->head_dim > 1024 || (v_len && v_len != hp->head_dim))
        return model_fail(err, "%s: %s.attention.key_length %u / value_length %u: must be equal "
                               "and in [1, 1024]", f, arch, hp->head_dim, v_len);
    hp->q_dim = hp->n_head * hp->head_dim;
    hp->n_rot = hp->head_dim;
    if (get_u32(gf, arch, "rope.dimension_count", &hp->n_rot, 0, err))
        return -1;
    if (hp->n_rot == 0 || hp->n_rot % 2 != 0 || hp->n_rot > hp->head_dim || hp->n_rot > 512)
        return model_fail(err, "%s: %s.rope.dimension_count %u: must be even and at most the head size %u",
                          f, arch, hp->n_rot, hp->head_dim);
    if (!(hp->rms_eps > 0.0f) || !(hp->rope_base > 0.0f))
        return model_fail(err, "%s: rms epsilon %g and rope freq_base %g must be positive", f,
                          (double)hp->rms_eps, (double)hp->rope_base);
    return 0;
}

static const gguf_tensor *find(const gguf_file *gf, const char *name, model_error *err)
{
    const gguf_tensor *t = gguf_find_tensor(gf, name);
    if (!t)
        model_fail(err, "%s: tensor %s: missing", src_name(gf), name);
    return t;
}

/* A [n_cols, n_rows] matrix (GGUF order: ne[0] contiguous). n_rows == 0 accepts any. */
static int load_weight(const gguf_file *gf, const char *name, uint32_t n_cols, uint32_t n_rows,
                       model_weight *w, model_error *err)
{
    const gguf_tensor *t = find(gf, name, err);
    if (!t)
        return -1;
    const char *f = src_name(gf);
    if (t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] != n_cols || (n_rows && t->ne[1] != n_rows))
        return model_fail(err, "%s: tensor %s: shape [%llu, %llu, %llu, %llu], expected [%u, %u]",
                          f, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                          (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], n_cols,
                          n_rows);
    if (t->ne[1] == 0 || t->ne[1] > UINT32_MAX)
        return model_fail(err, "%s: tensor %s: %llu rows out of range", f, name,
                          (unsigned long long)t->ne[1]);
    int kt = kern_wtype_from_ggml(t->type);
    if (kt < 0)
        return model_fail(err, "%s: tensor %s: type %s (%u) not supported", f, name,
                          ggml_type_name(t->type), t->type);
    uint32_t be = kern_wtype_block_elems((kern_wtype)kt);
    if (n_cols % be != 0)
        return model_fail(err, "%s: tensor %s: row of %u values is not a whole number of %s blocks",
                          f, name, n_cols, kern_wtype_name((kern_wtype)kt));
    w->type = (kern_wtype)kt;
    w->n_cols = n_cols;
    w->n_rows = (uint32_t)t->ne[1];
    w->row_bytes = (size_t)(n_cols / be) * kern_wtype_block_bytes((kern_wtype)kt);
    if (t->size < (uint64_t)w->row_bytes * w->n_rows || !t->data)
        return model_fail(err, "%s: tensor %s: %llu bytes of data, expected %llu", f, name,
                          (unsigned long long)t->size,
                          (unsigned long long)w->row_bytes * w->n_rows);
    w->data = t->data;
    return 0;
}

/* Norm weights and biases are vectors of n values, converted to F32. */
static float *load_vector(const gguf_file *gf, const char *name, uint32_t n, model_error *err)
{
    const gguf_tensor *t = find(gf, name, err);
    if (!t)
        return NULL;
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1) {
        model_fail(err, "%s: tensor %s: shape [%llu, %llu], expected [%u]", src_name(gf), name,
                   (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], n);
        return NULL;
    }
    int kt = kern_wtype_from_ggml(t->type);
    if (kt != KW_F32 && kt != KW_F16 && kt != KW_BF16) {
        model_fail(err, "%s: tensor %s: type %s not supported for a vector (F32, F16, BF16)",
                   src_name(gf), name, ggml_type_name(t->type));
        return NULL;
    }
    if (!t->data || t->size < (uint64_t)n * kern_wtype_block_bytes((kern_wtype)kt)) {
        model_fail(err, "%s: tensor %s: data too short", src_name(gf), name);
        return NULL;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        model_fail(err, "%s: tensor %s: out of memory", src_name(gf), name);
        return NULL;
    }
    kern_dequant_row((kern_wtype)kt, t->data, v, (int)n);
    return v;
}

static int load_layer(const gguf_file *gf, const arch_desc *ad, const model_hparams *hp,
                      uint32_t i, model_layer *l, model_error *err)
{
    char name[96];
    uint32_t kv_dim = hp->n_head_kv * hp->head_dim;
#define NAME(s) (snprintf(name, sizeof name, "blk.%u." s, i), name)
    if (!(l->attn_norm = load_vector(gf, NAME("attn_norm.weight"), hp->n_embd, err)) ||
        !(l->ffn_norm = load_vector(gf, NAME("ffn_norm.weight"), hp->n_embd, err)))
        return -1;
    if (ad->qkv_bias && (!(l->bq = load_vector(gf, NAME("attn_q.bias"), hp->q_dim, err)) ||
                         !(l->bk = load_vector(gf, NAME("attn_k.bias"), kv_dim, err)) ||
                         !(l->bv = load_vector(gf, NAME("attn_v.bias"), kv_dim, err))))
        return -1;
    if (ad->qk_norm &&
        (!(l->q_norm = load_vector(gf, NAME("attn_q_norm.weight"), hp->head_dim, err)) ||
         !(l->k_norm = load_vector(gf, NAME("attn_k_norm.weight"), hp->head_dim, err))))
        return -1;
    if (load_weight(gf, NAME("attn_q.weight"), hp->n_embd, hp->q_dim, &l->wq, err) ||
        load_weight(gf, NAME("attn_k.weight"), hp->n_embd, kv_dim, &l->wk, err) ||
        load_weight(gf, NAME("attn_v.weight"), hp->n_embd, kv_dim, &l->wv, err) ||
        load_weight(gf, NAME("attn_output.weight"), hp->q_dim, hp->n_embd, &l->wo, err) ||
        load_weight(gf, NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, &l->w_gate, err) ||
        load_weight(gf, NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, &l->w_up, err) ||
        load_weight(gf, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd, &l->w_down, err))
        return -1;
#undef NAME
    return 0;
}

int model_load(const gguf_file *gf, model **out, model_error *err)
{
    *out = NULL;
    gguf_string arch;
    if (gguf_get_str(gf, "general.architecture", &arch) != 0)
        return model_fail(err, "%s: metadata general.architecture: missing", src_name(gf));
    const arch_desc *ad = arch_find(&arch);
    if (!ad)
        return model_fail(err, "%s: architecture '%.*s' not supported (llama, qwen2, qwen3)",
                          src_name(gf), (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    model *m = calloc(1, sizeof *m);
    if (!m)
        return model_fail(err, "%s: out of memory", src_name(gf));
    m->gf = gf;
    snprintf(m->arch, sizeof m->arch, "%s", ad->name);
    if (load_hparams(gf, m->arch, &m->hp, err) ||
        load_weight(gf, "token_embd.weight", m->hp.n_embd, 0, &m->tok_embd, err))
        goto fail;
    m->hp.rope_style = ad->rope;
    m->hp.n_vocab = m->tok_embd.n_rows;
    uint32_t vocab_key = m->hp.n_vocab;
    if (get_u32(gf, m->arch, "vocab_size", &vocab_key, 0, err))
        goto fail;
    if (vocab_key != m->hp.n_vocab) {
        model_fail(err, "%s: %s.vocab_size %u but token_embd.weight has %u rows",
                   src_name(gf), m->arch, vocab_key, m->hp.n_vocab);
        goto fail;
    }
    if (gguf_find_tensor(gf, "output.weight")) {
        if (load_weight(gf, "output.weight", m->hp.n_embd, m->hp.n_vocab, &m->output, err))
            goto fail;
    } else {
        m->output = m->tok_embd;
        m->output_tied = 1;
    }
    if (!(m->output_norm = load_vector(gf, "output_norm.weight", m->hp.n_embd, err)))
        goto fail;
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) {
        model_fail(err, "%s: out of memory", src_name(gf));
        goto fail;
    }
    for (uint32_t i = 0; i < m->hp.n_layer; i++)
        if (load_layer(gf, ad, &m->hp, i, &m->layers[i], err))
            goto fail;
    *out = m;
    return 0;
fail:
    model_free(m);
    return -1;
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->layers)
        for (uint32_t i = 0; i < m->hp.n_layer; i++) {
            model_layer *l = &m->layers[i];
            float *vecs[] = {l->attn_norm, l->ffn_norm, l->bq, l->bk, l->bv, l->q_norm,
                             l->k_norm};
            for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++)
                free(vecs[v]);
        }
    free(m->layers);
    free(m->output_norm);
    free(m);
}

const char *model_weight_type_name(const model *m)
{
    return kern_wtype_name(m->layers[0].wq.type);
}
