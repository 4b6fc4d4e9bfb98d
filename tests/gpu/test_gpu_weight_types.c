/* The CUDA backend against the CPU backend on generated models of every weight type
 * (model gen, no reference data needed): a prefill of 40 tokens (logits of every row),
 * then one decode step, F32 KV cache. The GPU expands quantized weights to F16 and rounds
 * activations to F16 for them, where the CPU quantizes activations to 8 bits per 32 values
 * (test_forward_quant measures that at about 1.3e-2 relative); F32 and BF16 weights are F32
 * products on both, F16 weights F16 x F16 products accumulated in F32 on both. */
#include "gpu_fixture.h"

typedef struct type_case {
    const char *name;
    uint32_t type;
    model_gen_mix mix;
    double tol;
} type_case;

static const type_case cases[] = {
    {"f32", GGML_TYPE_F32, MODEL_GEN_UNIFORM, 1e-4},
    {"bf16", GGML_TYPE_BF16, MODEL_GEN_UNIFORM, 1e-4},
    {"f16", GGML_TYPE_F16, MODEL_GEN_UNIFORM, 5e-3},
    {"q8_0", GGML_TYPE_Q8_0, MODEL_GEN_UNIFORM, 3e-2},
    {"q4_0", GGML_TYPE_Q4_0, MODEL_GEN_UNIFORM, 3e-2},
    {"q4_k", GGML_TYPE_Q4_K, MODEL_GEN_UNIFORM, 3e-2},
    {"q6_k", GGML_TYPE_Q6_K, MODEL_GEN_UNIFORM, 3e-2},
    {"q4_k_m", GGML_TYPE_Q4_K, MODEL_GEN_Q4_K_M, 3e-2},
};

#define N_PROMPT 40

/* Logits of every prompt row and of one decode step: N_PROMPT + 1 rows. */
static float *run(backend *b, const model *m, const int32_t *tokens)
{
    uint32_t vocab = m->hp.n_vocab, rows[N_PROMPT], last = 0;
    for (uint32_t i = 0; i < N_PROMPT; i++)
        rows[i] = i;
    float *lg = malloc((size_t)(N_PROMPT + 1) * vocab * sizeof *lg);
    assert_non_null(lg);
    kv_cache *kv = gpu_kv(b, m, 1, N_PROMPT + 1, KV_F32);
    gpu_eval(b, kv, tokens, N_PROMPT, 0, 0, rows, N_PROMPT, lg);
    gpu_eval(b, kv, tokens + N_PROMPT, 1, N_PROMPT, 0, &last, 1, lg + (size_t)N_PROMPT * vocab);
    kv_cache_destroy(kv);
    return lg;
}

static void test_every_weight_type(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture_model fm;
        gpu_gen_model(&fm, cases[c].name, cases[c].type, cases[c].mix);
        uint32_t vocab = fm.m->hp.n_vocab;
        int32_t tokens[N_PROMPT + 1];
        gpu_tokens(tokens, N_PROMPT + 1, vocab, (uint32_t)c);
        backend *gpu = gpu_cuda_backend(fm.m), *cpu = gpu_cpu_backend(fm.m);
        float *lg = run(gpu, fm.m, tokens), *lc = run(cpu, fm.m, tokens);
        double worst = fixture_worst_rel_l2(lg, lc, N_PROMPT + 1, vocab);
        print_message("  %-6s gpu vs cpu: worst rel L2 %.3g over %u rows (tol %.0e)\n",
                      cases[c].name, worst, N_PROMPT + 1, cases[c].tol);
        assert_true(worst <= cases[c].tol);
        free(lc);
        free(lg);
        backend_destroy(cpu);
        backend_destroy(gpu);
        fixture_free(&fm);
    }
}

/* Head shapes other than the 64 of gpu_gen_model, end to end (F32 weights, both KV types):
 * head size 128 with four query heads per KV head, 80 (not a multiple of the 32 lanes of a
 * warp) with as many KV heads as query heads, and 256, the largest the backend takes. */
static void test_head_shapes(void **state)
{
    (void)state;
    static const struct {
        uint32_t n_embd, n_head, n_head_kv;
    } shapes[] = {{512, 4, 1}, {320, 4, 4}, {768, 3, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char rel[64], path[4096];
        snprintf(rel, sizeof rel, "shape-%zu.gguf", i);
        test_path(path, gpu_tmp_dir, rel);
        model_gen_params p = {.n_layer = 2,
                              .n_embd = shapes[i].n_embd,
                              .n_head = shapes[i].n_head,
                              .n_head_kv = shapes[i].n_head_kv,
                              .n_ff = 2 * shapes[i].n_embd,
                              .n_ctx = 512,
                              .rope_base = 10000.0f,
                              .type = GGML_TYPE_F32,
                              .seed = 7 + i,
                              .vocab_from = NULL,
                              .mix = MODEL_GEN_UNIFORM};
        fixture_model fm;
        model_error err = {{0}};
        if (model_gen_write(&p, path, NULL, NULL, &err) || gguf_open(path, &fm.gf, &err) ||
            model_load(fm.gf, &fm.m, &err))
            fail_msg("%s", err.msg);
        uint32_t vocab = fm.m->hp.n_vocab, rows[N_PROMPT];
        for (uint32_t r = 0; r < N_PROMPT; r++)
            rows[r] = r;
        int32_t tokens[N_PROMPT];
        gpu_tokens(tokens, N_PROMPT, vocab, 100 + (uint32_t)i);
        backend *gpu = gpu_cuda_backend(fm.m), *cpu = gpu_cpu_backend(fm.m);
        float *lg = malloc((size_t)N_PROMPT * vocab * sizeof *lg);
        float *lc = malloc((size_t)N_PROMPT * vocab * sizeof *lc);
        assert_non_null(lg);
        assert_non_null(lc);
        for (int f16 = 0; f16 < 2; f16++) {
            kv_dtype dt = f16 ? KV_F16 : KV_F32;
            kv_cache *kg = gpu_kv(gpu, fm.m, 1, N_PROMPT, dt);
            kv_cache *kc = gpu_kv(cpu, fm.m, 1, N_PROMPT, dt);
            gpu_eval(gpu, kg, tokens, N_PROMPT, 0, 0, rows, N_PROMPT, lg);
            gpu_eval(cpu, kc, tokens, N_PROMPT, 0, 0, rows, N_PROMPT, lc);
            double worst = fixture_worst_rel_l2(lg, lc, N_PROMPT, vocab);
            /* F16 KV: the two sides round slightly different K and V to F16, and a value
             * near a rounding edge goes one way on each (about 4e-5 measured on a CPU
             * emulation of the device); a wrong index costs far more than 5e-4. */
            double tol = f16 ? 5e-4 : 1e-4;
            print_message("  head dim %3u, heads %u/%u, kv %s: gpu vs cpu worst rel L2 %.3g "
                          "(tol %.0e)\n",
                          fm.m->hp.head_dim, fm.m->hp.n_head, fm.m->hp.n_head_kv,
                          f16 ? "f16" : "f32", worst, tol);
            assert_true(worst <= tol);
            kv_cache_destroy(kc);
            kv_cache_destroy(kg);
        }
        free(lc);
        free(lg);
        backend_destroy(cpu);
        backend_destroy(gpu);
        fixture_free(&fm);
    }
}

int main(void)
{
    gpu_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_weight_type),
        cmocka_unit_test(test_head_shapes),
    };
    return cmocka_run_group_tests(tests, gpu_tmp_setup, gpu_tmp_teardown);
}
