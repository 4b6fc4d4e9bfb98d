/* End to end through the quantized weight types: small models generated from one seed in
 * F32 and in Q4_0, Q4_K, Q6_K and the Q4_K_M mix, plus for each quantized model an F32
 * model holding its dequantized weights, all evaluated through every kernel set this CPU
 * runs (a prefill of all positions, then one decode step):
 *  (a) quantized vs its dequantized F32 twin: the weights are the same numbers, so the only
 *      difference is that the kernels quantize activations to 8 bits per 32 values for
 *      quantized weights (F32 weights see F32 activations): about 2^-8 relative error per
 *      activation, compounded over 2 layers, 7 products each, attention and the output
 *      product. This also checks that the quantized dot products read the blocks as the
 *      dequantizer does;
 *  (b) quantized vs the original F32 model: the weight quantization error itself (the
 *      generated weights are uniform, ~6-7% relative per weight at 4 bits, ~1.5% for Q6_K),
 *      compounded the same way: the embedding, every layer and the output product each add
 *      their own error to the logits.
 * Measured worst relative L2 over the 25 rows (x86-64; scalar, avx2 and avx512 agree to
 * four digits):
 *      (a) Q4_0 0.0128, Q4_K 0.0134, Q6_K 0.0131, Q4_K_M 0.0144;
 *      (b) Q4_0 0.212, Q4_K 0.176, Q6_K 0.046, Q4_K_M 0.160.
 * (The sanitized run's 7 rows: a bit lower.) Bounds are about 1.5× the measurements. */
#include <stdint.h>

#include "model/kernels.h"
#include "tools/model_gen.h"
#include "model_fixture.h"

typedef struct quant_case {
    const char *name;
    uint32_t type;
    model_gen_mix mix;
    double tol_act;  /* (a) */
    double tol_f32;  /* (b) */
} quant_case;

static const quant_case cases[] = {
    {"q4_0", GGML_TYPE_Q4_0, MODEL_GEN_UNIFORM, 2e-2, 0.32},
    {"q4_k", GGML_TYPE_Q4_K, MODEL_GEN_UNIFORM, 2e-2, 0.27},
    {"q6_k", GGML_TYPE_Q6_K, MODEL_GEN_UNIFORM, 2e-2, 0.07},
    {"q4_k_m", GGML_TYPE_Q4_K, MODEL_GEN_Q4_K_M, 2e-2, 0.24},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static char dir[4096];

static void model_path(char *out, const char *name, const char *suffix)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s%s.gguf", name, suffix);
    test_path(out, dir, rel);
}

static model_gen_params params(uint32_t type, model_gen_mix mix)
{
    return (model_gen_params){.n_layer = 2, .n_embd = 256, .n_head = 4, .n_head_kv = 2,
                              .n_ff = 512, .n_ctx = 256, .rope_base = 10000.0f, .type = type,
                              .seed = 20261128, .vocab_from = NULL, .mix = mix};
}

/* Copies src with every tensor converted to F32 (the quantized ones dequantized). */
static void write_dequantized(const char *src, const char *dst)
{
    model_error err = {{0}};
    gguf_file *gf;
    if (gguf_open(src, &gf, &err))
        fail_msg("%s", err.msg);
    gguf_writer *w = gguf_writer_new();
    assert_non_null(w);
    for (uint64_t i = 0; i < gguf_n_keys(gf); i++)
        assert_int_equal(gguf_writer_copy_kv(w, gf, (int64_t)i), 0);
    assert_int_equal(gguf_writer_set_u32(w, "general.file_type", 0), 0);
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(gf, i);
        int kt = kern_wtype_from_ggml(t->type);
        assert_true(kt >= 0);
        uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3], row_bytes;
        assert_int_equal(ggml_tensor_nbytes(t->type, 1, t->ne, &row_bytes), 0);
        float *f = malloc(t->ne[0] * rows * sizeof *f);
        assert_non_null(f);
        for (uint64_t r = 0; r < rows; r++)
            kern_dequant_row((kern_wtype)kt, (const uint8_t *)t->data + r * row_bytes,
                             f + r * t->ne[0], (int)t->ne[0]);
        assert_int_equal(gguf_writer_add_tensor(w, t->name, t->n_dims, t->ne, GGML_TYPE_F32, f), 0);
        free(f);
    }
    if (gguf_writer_write(w, dst, &err))
        fail_msg("%s", err.msg);
    gguf_writer_free(w);
    gguf_close(gf);
}

static int setup(void **state)
{
    (void)state;
    test_mkdtemp(dir, "forward-quant");
    char path[4096], deq[4096];
    model_error err = {{0}};
    model_gen_params p = params(GGML_TYPE_F32, MODEL_GEN_UNIFORM);
    model_path(path, "f32", "");
    if (model_gen_write(&p, path, NULL, NULL, &err))
        fail_msg("%s", err.msg);
    for (size_t c = 0; c < N_CASES; c++) {
        p = params(cases[c].type, cases[c].mix);
        model_path(path, cases[c].name, "");
        model_path(deq, cases[c].name, ".deq");
        if (model_gen_write(&p, path, NULL, NULL, &err))
            fail_msg("%s", err.msg);
        write_dequantized(path, deq);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmtree(dir);
    return 0;
}

typedef struct loaded {
    gguf_file *gf;
    model *m;
} loaded;

static void load(loaded *l, const char *name, const char *suffix)
{
    char path[4096];
    model_path(path, name, suffix);
    model_error err = {{0}};
    if (gguf_open(path, &l->gf, &err) || model_load(l->gf, &l->m, &err))
        fail_msg("%s", err.msg);
}

static void unload(loaded *l)
{
    model_free(l->m);
    gguf_close(l->gf);
}

/* Logits of every prompt position and of one decode step after it: n_tok + 1 rows. */
static float *run(const loaded *l, const kern_set *ks, const int32_t *tokens, uint32_t n_tok)
{
    const model_hparams *hp = &l->m->hp;
    model_error err = {{0}};
    kv_cache *kv;
    fwd_ctx *fc;
    if (kv_contiguous_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim, 1, n_tok + 1,
                             KV_F32, &kv, &err) ||
        fwd_create(l->m, 2, ks, &fc, &err))
        fail_msg("%s", err.msg);
    float *logits = malloc((size_t)(n_tok + 1) * hp->n_vocab * sizeof *logits);
    uint32_t *rows = malloc(n_tok * sizeof *rows);
    assert_non_null(logits);
    assert_non_null(rows);
    for (uint32_t i = 0; i < n_tok; i++)
        rows[i] = i;
    fixture_eval(fc, kv, tokens, n_tok, 0, 0, rows, n_tok, logits);
    uint32_t row0 = 0;
    int32_t next = tokens[0];
    fixture_eval(fc, kv, &next, 1, n_tok, 0, &row0, 1, logits + (size_t)n_tok * hp->n_vocab);
    free(rows);
    fwd_destroy(fc);
    kv_cache_destroy(kv);
    return logits;
}

static void run_all(kern_kind kind)
{
    const kern_set *ks = kern_get(kind);
    if (!ks) {
        print_message("  %s kernels not available on this CPU: cases skipped\n", kern_kind_name(kind));
        return;
    }
    /* a shorter prompt under the sanitizers; both run prefill and decode */
    uint32_t n_tok = fixture_sanitized() ? 6 : 24;
    loaded f32;
    load(&f32, "f32", "");
    uint32_t vocab = f32.m->hp.n_vocab;
    int32_t tokens[24];
    uint64_t s = 99;
    for (uint32_t i = 0; i < n_tok; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (int32_t)((s >> 33) % vocab);
    }
    float *ref = run(&f32, ks, tokens, n_tok);
    for (size_t c = 0; c < N_CASES; c++) {
        loaded q, deq;
        load(&q, cases[c].name, "");
        load(&deq, cases[c].name, ".deq");
        assert_int_equal(q.m->hp.n_vocab, vocab);
        float *lq = run(&q, ks, tokens, n_tok), *ld = run(&deq, ks, tokens, n_tok);
        double e_act = fixture_worst_rel_l2(lq, ld, n_tok + 1, vocab);
        double e_f32 = fixture_worst_rel_l2(lq, ref, n_tok + 1, vocab);
        print_message("  %-6s kernels=%-6s vs dequantized F32 %.4f (tol %.0e), vs original F32 %.4f (tol %.2f)\n",
                      cases[c].name, ks->name, e_act, cases[c].tol_act, e_f32, cases[c].tol_f32);
        assert_true(e_act <= cases[c].tol_act);
        assert_true(e_f32 <= cases[c].tol_f32);
        free(lq);
        free(ld);
        unload(&q);
        unload(&deq);
    }
    free(ref);
    unload(&f32);
}

static void test_quant_scalar_kernels(void **state)
{
    (void)state;
    run_all(KERN_SCALAR);
}

static void test_quant_avx2_kernels(void **state)
{
    (void)state;
    run_all(KERN_AVX2);
}

static void test_quant_avx512_kernels(void **state)
{
    (void)state;
    run_all(KERN_AVX512);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_scalar_kernels),
        cmocka_unit_test(test_quant_avx2_kernels),
        cmocka_unit_test(test_quant_avx512_kernels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
