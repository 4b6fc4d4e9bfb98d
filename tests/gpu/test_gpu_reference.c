/* The CUDA backend's logits for the tiny reference models (testdata/README.md) against the
 * independent implementation's and against the CPU backend's, within the README's
 * tolerances: the whole prompt in one batch (prefill), then a greedy continuation one token
 * per step (decode), with F32 and F16 KV caches. Greedy continuations must match the
 * reference exactly for tiny-f32 and tiny-f16. */
#include "gpu_fixture.h"

typedef struct ref_case {
    const char *prompt; /* "short" or "long" */
    kv_dtype kv;
} ref_case;

typedef struct ref_model {
    const char *name;
    double tol_f32_kv, tol_f16_kv;
    int greedy_exact;
} ref_model;

static const ref_model models[] = {
    {"tiny-f32", 1e-4, 2e-3, 1},
    {"tiny-f16", 5e-3, 5e-3, 1},
    {"tiny-q8_0", 6e-2, 6e-2, 0},
};

static const ref_case cases[] = {
    {"short", KV_F32}, {"long", KV_F32}, {"short", KV_F16}, {"long", KV_F16}};

static void run_case(const ref_model *rm, const ref_case *rc, const fixture_model *fm, backend *gpu,
                     backend *cpu)
{
    uint32_t vocab = fm->m->hp.n_vocab;
    fixture_reference r;
    fixture_reference_load(&r, rm->name, rc->prompt, vocab);
    double tol = rc->kv == KV_F32 ? rm->tol_f32_kv : rm->tol_f16_kv;

    kv_cache *kv_gpu = gpu_kv(gpu, fm->m, 1, r.n_tok + r.n_greedy, rc->kv);
    kv_cache *kv_cpu = gpu_kv(cpu, fm->m, 1, r.n_tok + r.n_greedy, rc->kv);
    float *lg = malloc((size_t)r.n_pos * vocab * sizeof *lg);
    float *lc = malloc((size_t)r.n_pos * vocab * sizeof *lc);
    assert_non_null(lg);
    assert_non_null(lc);
    gpu_eval(gpu, kv_gpu, r.tokens, r.n_tok, 0, 0, (const uint32_t *)r.positions, r.n_pos, lg);
    gpu_eval(cpu, kv_cpu, r.tokens, r.n_tok, 0, 0, (const uint32_t *)r.positions, r.n_pos, lc);
    double vs_ref = fixture_worst_rel_l2(lg, r.logits, r.n_pos, vocab);
    double vs_cpu = fixture_worst_rel_l2(lg, lc, r.n_pos, vocab);

    /* Decode: both backends are fed the GPU's greedy choice. */
    uint32_t matched = 0, diverged = 0, row = 0;
    double decode_vs_cpu = 0.0;
    int32_t next = (int32_t)fixture_argmax(lg + (size_t)(r.n_pos - 1) * vocab, vocab);
    for (uint32_t g = 0; g < r.n_greedy; g++) {
        if (next == r.greedy[g] && !diverged)
            matched++;
        else
            diverged = 1;
        gpu_eval(gpu, kv_gpu, &next, 1, r.n_tok + g, 0, &row, 1, lg);
        gpu_eval(cpu, kv_cpu, &next, 1, r.n_tok + g, 0, &row, 1, lc);
        double e = fixture_rel_l2(lg, lc, vocab);
        decode_vs_cpu = e > decode_vs_cpu ? e : decode_vs_cpu;
        next = (int32_t)fixture_argmax(lg, vocab);
    }
    print_message("  %-9s %-5s kv=%s: prefill rel L2 vs reference %.3g, vs cpu %.3g; decode vs "
                  "cpu %.3g (tol %.0e); greedy %u/%u\n",
                  rm->name, rc->prompt, rc->kv == KV_F32 ? "f32" : "f16", vs_ref, vs_cpu,
                  decode_vs_cpu, tol, matched, r.n_greedy);
    assert_true(vs_ref <= tol);
    assert_true(vs_cpu <= tol);
    assert_true(decode_vs_cpu <= tol);
    if (rm->greedy_exact && rc->kv == KV_F32)
        assert_int_equal(matched, r.n_greedy);

    free(lc);
    free(lg);
    kv_cache_destroy(kv_cpu);
    kv_cache_destroy(kv_gpu);
    fixture_reference_free(&r);
}

static void run_model(const ref_model *rm)
{
    fixture_model fm;
    fixture_load(&fm, rm->name);
    backend *gpu = gpu_cuda_backend(fm.m), *cpu = gpu_cpu_backend(fm.m);
    print_message("  %s on %s\n", rm->name, gpu->device_name);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(rm, &cases[i], &fm, gpu, cpu);
    backend_destroy(cpu);
    backend_destroy(gpu);
    fixture_free(&fm);
}

static void test_tiny_f32(void **state)
{
    (void)state;
    run_model(&models[0]);
}

static void test_tiny_f16(void **state)
{
    (void)state;
    run_model(&models[1]);
}

static void test_tiny_q8_0(void **state)
{
    (void)state;
    run_model(&models[2]);
}

int main(void)
{
    gpu_require_device();
    test_require_shared_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_f32),
        cmocka_unit_test(test_tiny_f16),
        cmocka_unit_test(test_tiny_q8_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
