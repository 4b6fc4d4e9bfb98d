/* The batched forward pass: embeddings, per layer RMSNorm → Q/K/V (+ bias for qwen2,
 * per-head Q/K RMSNorm for qwen3) → RoPE (adjacent pairs or NeoX halves) → KV write →
 * causal GQA attention → output projection → RMSNorm → SwiGLU FFN, then the final norm
 * and the output projection for the requested rows only. Matrix products are split into
 * row chunks across the thread pool; inside a chunk the kernels walk the batch's tokens
 * in blocks, so each chunk of weights is read from memory once per block of tokens. */
#include "model/forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/threadpool.h"

#define TOKEN_BLOCK 32 /* tokens per weight-chunk pass (activations stay in L2) */

struct fwd_ctx {
    const model *m;
    const kern_set *ks;
    threadpool *tp;
    uint32_t cap; /* tokens the scratch buffers hold */
    float *x, *xn, *q, *k, *v, *att, *gate, *up;
    uint8_t *act[3]; /* converted activations, per kern_act_format (KA_F32 needs none) */
    const uint32_t **tables; /* block table of each token's sequence */
    float *scores;           /* n_threads × scores_cap */
    size_t scores_cap;
};

const kern_set *fwd_kernels(const fwd_ctx *c) { return c->ks; }
int fwd_threads(const fwd_ctx *c) { return tp_threads(c->tp); }

static void free_scratch(fwd_ctx *c)
{
    float **bufs[] = {&c->x, &c->xn, &c->q, &c->k, &c->v, &c->att, &c->gate, &c->up};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    for (int i = 0; i < 3; i++) {
        free(c->act[i]);
        c->act[i] = NULL;
    }
    free(c->tables);
    c->tables = NULL;
    c->cap = 0;
}

static int ensure_scratch(fwd_ctx *c, uint32_t n, model_error *err)
{
    if (n <= c->cap)
        return 0;
    free_scratch(c);
    const model_hparams *hp = &c->m->hp;
    size_t dim = hp->n_embd, kvd = (size_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    size_t qd = hp->q_dim;
    size_t widest = dim > ff ? dim : ff;
    widest = widest > qd ? widest : qd;
    c->x = malloc(n * dim * sizeof(float));
    c->xn = malloc(n * dim * sizeof(float));
    c->q = malloc(n * qd * sizeof(float));
    c->k = malloc(n * kvd * sizeof(float));
    c->v = malloc(n * kvd * sizeof(float));
    c->att = malloc(n * qd * sizeof(float));
    c->gate = malloc(n * ff * sizeof(float));
    c->up = malloc(n * ff * sizeof(float));
    c->act[KA_F16] = malloc(n * kern_act_row_bytes(KA_F16, (int)widest));
    c->act[KA_Q8] = malloc(n * kern_act_row_bytes(KA_Q8, (int)widest));
    c->tables = malloc(n * sizeof *c->tables);
    if (!c->x || !c->xn || !c->q || !c->k || !c->v || !c->att || !c->gate || !c->up ||
        !c->act[KA_F16] || !c->act[KA_Q8] || !c->tables) {
        free_scratch(c);
        return model_fail(err, "forward: out of memory for a batch of %u tokens", n);
    }
    c->cap = n;
    return 0;
}

static int ensure_scores(fwd_ctx *c, size_t n_ctx, model_error *err)
{
    if (n_ctx <= c->scores_cap)
        return 0;
    free(c->scores);
    c->scores = malloc((size_t)tp_threads(c->tp) * n_ctx * sizeof(float));
    c->scores_cap = c->scores ? n_ctx : 0;
    if (!c->scores)
        return model_fail(err, "forward: out of memory for %zu attention scores", n_ctx);
    return 0;
}

int fwd_create(const model *m, int n_threads, const kern_set *ks, fwd_ctx **out,
               model_error *err)
{
    *out = NULL;
    fwd_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(err, "forward: out of memory");
    c->m = m;
    c->ks = ks ? ks : kern_get(KERN_AUTO);
    if (tp_create(n_threads, &c->tp, err)) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void fwd_destroy(fwd_ctx *c)
{
    if (!c)
        return;
    free_scratch(c);
    free(c->scores);
    tp_destroy(c->tp);
    free(c);
}

/* ---- activation conversion ---- */

typedef struct act_job {
    const kern_set *ks;
    kern_act_format f;
    const float *src;
    int k;
    uint8_t *dst;
    size_t dst_stride;
} act_job;

static void act_task(void *p, int t, int thread)
{
    act_job *j = p;
    const float *row = j->src + (size_t)t * j->k;
    uint8_t *out = j->dst + (size_t)t * j->dst_stride;
    if (j->f == KA_F16)
        j->ks->act_f16(row, (uint16_t *)(void *)out, j->k);
    else
        j->ks->act_q8(row, (kern_q8_block *)(void *)out, j->k);
}

/* The activations one product group reads: n rows of k floats, converted on first use
 * to each format the group's weight types need (F32 is used in place). */
typedef struct act_cache {
    const float *src;
    int n, k;
    const uint8_t *rows[3];
} act_cache;

static act_cache act_of(const float *src, int n, int k)
{
    return (act_cache){src, n, k, {(const uint8_t *)src, NULL, NULL}};
}

static const uint8_t *act_for(fwd_ctx *c, act_cache *ac, kern_wtype t)
{
    kern_act_format f = kern_wtype_act(t);
    if (!ac->rows[f]) {
        act_job j = {c->ks, f, ac->src, ac->k, c->act[f], kern_act_row_bytes(f, ac->k)};
        tp_run(c->tp, ac->n, act_task, &j);
        ac->rows[f] = c->act[f];
    }
    return ac->rows[f];
}

/* ---- matrix products ---- */

typedef struct mm_op {
    const model_weight *w;
    const uint8_t *act;
    size_t act_stride;
    float *y;
    size_t y_stride;
} mm_op;

typedef struct mm_job {
    const kern_set *ks;
    int n_tok, n_ops, rows_per_task;
    mm_op op[3];
    int first_task[4];
} mm_job;

static void mm_task(void *p, int task, int thread)
{
    mm_job *j = p;
    int o = 0;
    while (task >= j->first_task[o + 1])
        o++;
    const mm_op *op = &j->op[o];
    const model_weight *w = op->w;
    int r0 = (task - j->first_task[o]) * j->rows_per_task;
    int nr = (int)w->n_rows - r0 < j->rows_per_task ? (int)w->n_rows - r0 : j->rows_per_task;
    for (int t0 = 0; t0 < j->n_tok; t0 += TOKEN_BLOCK) {
        int nt = j->n_tok - t0 < TOKEN_BLOCK ? j->n_tok - t0 : TOKEN_BLOCK;
        j->ks->gemm[w->type]((int)w->n_cols, w->data + (size_t)r0 * w->row_bytes, w->row_bytes,
                             nr, op->act + (size_t)t0 * op->act_stride, op->act_stride, nt,
                             op->y + (size_t)t0 * op->y_stride + r0, op->y_stride);
    }
}

/* Runs up to three products over the same tokens as one parallel job. */
static void matmul(fwd_ctx *c, int n_ops, const mm_op *ops, int n_tok)
{
    mm_job j = {.ks = c->ks, .n_tok = n_tok, .n_ops = n_ops};
    long total = 0;
    for (int i = 0; i < n_ops; i++)
        total += ops[i].w->n_rows;
    /* About eight tasks per thread for balance, in multiples of the 4-row kernel tile. */
    long per = total / (8L * tp_threads(c->tp));
    per = (per + 15) / 16 * 16;
    j.rows_per_task = (int)(per < 16 ? 16 : per);
    j.first_task[0] = 0;
    for (int i = 0; i < n_ops; i++) {
        j.op[i] = ops[i];
        int tasks = ((int)ops[i].w->n_rows + j.rows_per_task - 1) / j.rows_per_task;
        j.first_task[i + 1] = j.first_task[i] + tasks;
    }
    for (int i = n_ops + 1; i < 4; i++)
        j.first_task[i] = j.first_task[n_ops];
    tp_run(c->tp, j.first_task[n_ops], mm_task, &j);
}

static mm_op op_of(fwd_ctx *c, act_cache *ac, const model_weight *w, float *y)
{
    const uint8_t *a = act_for(c, ac, w->type);
    return (mm_op){w, a, kern_act_row_bytes(kern_wtype_act(w->type), ac->k), y, w->n_rows};
}

/* ---- attention ---- */

typedef struct attn_job {
    fwd_ctx *c;
    kv_cache *kv;
    const fwd_batch *b;
    uint32_t layer;
} attn_job;

static void attn_task(void *p, int task, int thread)
{
    attn_job *j = p;
    fwd_ctx *c = j->c;
    kv_cache *kv = j->kv;
    const model_hparams *hp = &c->m->hp;
    const kern_set *ks = c->ks;
    int t = task / (int)hp->n_head, h = task % (int)hp->n_head;
    int hd = (int)hp->head_dim;
    size_t kvh_off = (size_t)(h / (int)(hp->n_head / hp->n_head_kv)) * hp->head_dim;
    uint32_t n_ctx = j->b->pos[t] + 1, bt = kv->block_tokens;
    size_t row = kv_row_elems(kv);
    const uint32_t *table = c->tables[t];
    const float *qv = c->q + (size_t)t * hp->q_dim + (size_t)h * hd;
    float *sc = c->scores + (size_t)thread * c->scores_cap;
    float scale = 1.0f / sqrtf((float)hd);

    for (uint32_t s = 0; s < n_ctx; s += bt) {
        int n = (int)(n_ctx - s < bt ? n_ctx - s : bt);
        void *kb = kv->ops->k_block(kv, j->layer, table[s / bt]);
        if (kv->dtype == KV_F32)
            ks->attn_scores_f32(qv, (const float *)kb + kvh_off, row, n, hd, scale, sc + s);
        else
            ks->attn_scores_f16(qv, (const uint16_t *)kb + kvh_off, row, n, hd, scale, sc + s);
    }
    kern_softmax(sc, (int)n_ctx);
    float *out = c->att + (size_t)t * hp->q_dim + (size_t)h * hd;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (uint32_t s = 0; s < n_ctx; s += bt) {
        int n = (int)(n_ctx - s < bt ? n_ctx - s : bt);
        void *vb = kv->ops->v_block(kv, j->layer, table[s / bt]);
        if (kv->dtype == KV_F32)
            ks->attn_accum_f32(sc + s, (const float *)vb + kvh_off, row, n, hd, out);
        else
            ks->attn_accum_f16(sc + s, (const uint16_t *)vb + kvh_off, row, n, hd, out);
    }
}

static void store_kv(fwd_ctx *c, kv_cache *kv, const fwd_batch *b, uint32_t layer)
{
    size_t row = kv_row_elems(kv), esz = kv_dtype_size(kv->dtype);
    uint32_t bt = kv->block_tokens;
    for (uint32_t t = 0; t < b->n_tokens; t++) {
        uint32_t p = b->pos[t], blk = c->tables[t][p / bt];
        size_t off = (size_t)(p % bt) * row * esz;
        uint8_t *kd = (uint8_t *)kv->ops->k_block(kv, layer, blk) + off;
        uint8_t *vd = (uint8_t *)kv->ops->v_block(kv, layer, blk) + off;
        const float *ks = c->k + t * row, *vs = c->v + t * row;
        if (kv->dtype == KV_F32) {
            memcpy(kd, ks, row * sizeof(float));
            memcpy(vd, vs, row * sizeof(float));
        } else {
            c->ks->act_f16(ks, (uint16_t *)(void *)kd, (int)row);
            c->ks->act_f16(vs, (uint16_t *)(void *)vd, (int)row);
        }
    }
}

/* ---- SwiGLU ---- */

typedef struct ffn_job {
    fwd_ctx *c;
} ffn_job;

static void swiglu_task(void *p, int t, int thread)
{
    fwd_ctx *c = ((ffn_job *)p)->c;
    size_t ff = c->m->hp.n_ff;
    c->ks->swiglu(c->gate + t * ff, c->up + t * ff, c->gate + t * ff, (int)ff);
}

/* ---- the pass ---- */

int fwd_check_batch(const model *m, const kv_cache *kv, const fwd_batch *b, model_error *err)
{
    const model_hparams *hp = &m->hp;
    if (b->n_tokens == 0)
        return model_fail(err, "forward: empty batch");
    if (kv->n_layer != hp->n_layer || kv->n_kv_heads != hp->n_head_kv ||
        kv->head_dim != hp->head_dim)
        return model_fail(err, "forward: kv cache shape (%u layers, %u kv heads, head %u) does "
                               "not match the model (%u, %u, %u)",
                          kv->n_layer, kv->n_kv_heads, kv->head_dim, hp->n_layer,
                          hp->n_head_kv, hp->head_dim);
    for (uint32_t t = 0; t < b->n_tokens; t++) {
        if (b->tokens[t] < 0 || (uint32_t)b->tokens[t] >= hp->n_vocab)
            return model_fail(err, "forward: token %d at batch row %u outside the vocabulary (%u)",
                              b->tokens[t], t, hp->n_vocab);
        if (b->pos[t] >= (1u << 30))
            return model_fail(err, "forward: position %u at batch row %u too large", b->pos[t], t);
    }
    for (uint32_t i = 0; i < b->n_out; i++)
        if (b->out_rows[i] >= b->n_tokens)
            return model_fail(err, "forward: logits row %u outside the batch (%u tokens)",
                              b->out_rows[i], b->n_tokens);
    return 0;
}

static void add_rows(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

static void add_bias(float *x, const float *bias, size_t n)
{
    if (bias)
        add_rows(x, bias, n);
}

/* RMSNorm of each of n_heads heads of x with the head_dim weights w. */
static void norm_heads(float *x, const float *w, uint32_t n_heads, uint32_t head_dim, float eps)
{
    for (uint32_t h = 0; h < n_heads; h++)
        kern_rmsnorm(x + (size_t)h * head_dim, w, x + (size_t)h * head_dim, (int)head_dim, eps);
}

/* One token's Q, K and V from the projections to what attention uses: the biases and
 * per-head norms the architecture has, then RoPE at pos. */
static void position_qk(fwd_ctx *c, const model_layer *L, float *q, float *k, float *v, int pos)
{
    const model_hparams *hp = &c->m->hp;
    size_t kvd = (size_t)hp->n_head_kv * hp->head_dim;
    add_bias(q, L->bq, hp->q_dim);
    add_bias(k, L->bk, kvd);
    add_bias(v, L->bv, kvd);
    if (L->q_norm) {
        norm_heads(q, L->q_norm, hp->n_head, hp->head_dim, hp->rms_eps);
        norm_heads(k, L->k_norm, hp->n_head_kv, hp->head_dim, hp->rms_eps);
    }
    void (*rope)(float *, int, int, int, int, float) =
        hp->rope_style == MODEL_ROPE_NEOX ? kern_rope_neox : kern_rope_norm;
    rope(q, (int)hp->n_head, (int)hp->head_dim, (int)hp->n_rot, pos, hp->rope_base);
    rope(k, (int)hp->n_head_kv, (int)hp->head_dim, (int)hp->n_rot, pos, hp->rope_base);
}

static void eval_layer(fwd_ctx *c, kv_cache *kv, const fwd_batch *b, uint32_t il)
{
    const model_hparams *hp = &c->m->hp;
    const model_layer *L = &c->m->layers[il];
    int n = (int)b->n_tokens, dim = (int)hp->n_embd, ff = (int)hp->n_ff;

    for (int t = 0; t < n; t++)
        kern_rmsnorm(c->x + (size_t)t * dim, L->attn_norm, c->xn + (size_t)t * dim, dim, hp->rms_eps);
    act_cache ac = act_of(c->xn, n, dim);
    mm_op qkv[3] = {op_of(c, &ac, &L->wq, c->q), op_of(c, &ac, &L->wk, c->k),
                    op_of(c, &ac, &L->wv, c->v)};
    matmul(c, 3, qkv, n);

    size_t kvd = (size_t)hp->n_head_kv * hp->head_dim, qd = hp->q_dim;
    for (int t = 0; t < n; t++)
        position_qk(c, L, c->q + (size_t)t * qd, c->k + (size_t)t * kvd, c->v + (size_t)t * kvd,
                    (int)b->pos[t]);
    store_kv(c, kv, b, il);
    attn_job aj = {c, kv, b, il};
    tp_run(c->tp, n * (int)hp->n_head, attn_task, &aj);

    ac = act_of(c->att, n, (int)qd);
    mm_op o = op_of(c, &ac, &L->wo, c->xn);
    matmul(c, 1, &o, n);
    add_rows(c->x, c->xn, (size_t)n * dim);

    for (int t = 0; t < n; t++)
        kern_rmsnorm(c->x + (size_t)t * dim, L->ffn_norm, c->xn + (size_t)t * dim, dim, hp->rms_eps);
    ac = act_of(c->xn, n, dim);
    mm_op gu[2] = {op_of(c, &ac, &L->w_gate, c->gate), op_of(c, &ac, &L->w_up, c->up)};
    matmul(c, 2, gu, n);
    ffn_job fj = {c};
    tp_run(c->tp, n, swiglu_task, &fj);

    ac = act_of(c->gate, n, ff);
    mm_op d = op_of(c, &ac, &L->w_down, c->xn);
    matmul(c, 1, &d, n);
    add_rows(c->x, c->xn, (size_t)n * dim);
}

int fwd_eval(fwd_ctx *c, kv_cache *kv, const fwd_batch *b, float *logits, model_error *err)
{
    const model *m = c->m;
    const model_hparams *hp = &m->hp;
    if (fwd_check_batch(c->m, kv, b, err) || ensure_scratch(c, b->n_tokens, err))
        return -1;
    uint32_t max_ctx = 0;
    for (uint32_t t = 0; t < b->n_tokens; t++) {
        if (kv->ops->reserve(kv, b->seq[t], b->pos[t] + 1, err))
            return -1;
        max_ctx = b->pos[t] + 1 > max_ctx ? b->pos[t] + 1 : max_ctx;
    }
    for (uint32_t t = 0; t < b->n_tokens; t++)
        c->tables[t] = kv->ops->block_table(kv, b->seq[t]);
    if (ensure_scores(c, max_ctx, err))
        return -1;

    size_t dim = hp->n_embd;
    for (uint32_t t = 0; t < b->n_tokens; t++)
        kern_dequant_row(m->tok_embd.type,
                         m->tok_embd.data + (size_t)b->tokens[t] * m->tok_embd.row_bytes,
                         c->x + t * dim, (int)dim);
    for (uint32_t il = 0; il < hp->n_layer; il++)
        eval_layer(c, kv, b, il);

    if (b->n_out == 0)
        return 0;
    for (uint32_t i = 0; i < b->n_out; i++)
        kern_rmsnorm(c->x + (size_t)b->out_rows[i] * dim, m->output_norm, c->xn + i * dim,
                     (int)dim, hp->rms_eps);
    act_cache ac = act_of(c->xn, (int)b->n_out, (int)dim);
    mm_op o = op_of(c, &ac, &m->output, logits);
    matmul(c, 1, &o, (int)b->n_out);
    return 0;
}
