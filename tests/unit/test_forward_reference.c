/* The forward pass against logits an independent implementation computed for the tiny
 * models (testdata/README.md): worst relative L2 error over the stored positions within
 * the README's tolerances, through every kernel set this CPU runs, with F32
 * and F16 KV caches; greedy continuations identical for tiny-f32 and tiny-f16. */
#include "model_fixture.h"

typedef struct ref_case {
    const char *model;
    const char *prompt; /* "short" or "long" */
    kv_dtype kv;
    double tol;
    int greedy_exact;
} ref_case;

static void run_case(const ref_case *rc, kern_kind kind)
{
    const kern_set *ks = kern_get(kind);
    if (!ks) {
        print_message("  %s kernels not available on this CPU: case skipped\n",
                      kern_kind_name(kind));
        return;
    }
    fixture_model fm;
    fixture_load(&fm, rc->model);
    uint32_t vocab = fm.m->hp.n_vocab;
    fixture_reference r;
    fixture_reference_load(&r, rc->model, rc->prompt, vocab);

    kv_cache *kv;
    fwd_ctx *fc;
    model_error err = {{0}};
    const model_hparams *hp = &fm.m->hp;
    assert_int_equal(kv_contiguous_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim, 1,
                                          r.n_tok + r.n_greedy, rc->kv, &kv, &err),
                     0);
    assert_int_equal(fwd_create(fm.m, 2, ks, &fc, &err), 0);

    float *logits = malloc((size_t)r.n_pos * vocab * sizeof *logits);
    assert_non_null(logits);
    fixture_eval(fc, kv, r.tokens, r.n_tok, 0, 0, (const uint32_t *)r.positions, r.n_pos, logits);
    double worst = fixture_worst_rel_l2(logits, r.logits, r.n_pos, vocab);

    /* Greedy continuation, one decode step per token. */
    uint32_t matched = 0, diverged = 0;
    int32_t next = (int32_t)fixture_argmax(logits + (size_t)(r.n_pos - 1) * vocab, vocab);
    for (uint32_t g = 0; g < r.n_greedy; g++) {
        if (next == r.greedy[g] && !diverged)
            matched++;
        else
            diverged = 1;
        uint32_t row = 0;
        fixture_eval(fc, kv, &next, 1, r.n_tok + g, 0, &row, 1, logits);
        next = (int32_t)fixture_argmax(logits, vocab);
    }
    print_message("  %-9s %-5s kv=%s kernels=%-6s worst rel L2 %.3g (tol %.0e), greedy %u/%u\n",
                  rc->model, rc->prompt, rc->kv == KV_F32 ? "f32" : "f16", ks->name, worst, rc->tol,
                  matched, r.n_greedy);
    assert_true(worst <= rc->tol);
    if (rc->greedy_exact)
        assert_int_equal(matched, r.n_greedy);

    free(logits);
    fixture_reference_free(&r);
    fwd_destroy(fc);
    kv_cache_destroy(kv);
    fixture_free(&fm);
}

static const ref_case cases[] = {
    {"tiny-f32", "short", KV_F32, 1e-4, 1},  {"tiny-f32", "long", KV_F32, 1e-4, 1},
    {"tiny-f32", "short", KV_F16, 2e-3, 0},  {"tiny-f32", "long", KV_F16, 2e-3, 0},
    {"tiny-f16", "short", KV_F32, 5e-3, 1},  {"tiny-f16", "long", KV_F32, 5e-3, 1},
    {"tiny-f16", "short", KV_F16, 5e-3, 0},  {"tiny-f16", "long", KV_F16, 5e-3, 0},
    {"tiny-q8_0", "short", KV_F32, 6e-2, 0}, {"tiny-q8_0", "long", KV_F32, 6e-2, 0},
    {"tiny-q8_0", "short", KV_F16, 6e-2, 0}, {"tiny-q8_0", "long", KV_F16, 6e-2, 0},
};

/* Under sanitizers every short case runs, and of the long ones only tiny-f32 with F32 KV. */
static void run_all(kern_kind kind)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_case *rc = &cases[i];
        if (fixture_sanitized() && !strcmp(rc->prompt, "long") &&
            !(rc->kv == KV_F32 && !strcmp(rc->model, "tiny-f32")))
            continue;
        run_case(rc, kind);
    }
}

static void test_reference_avx512_kernels(void **state)
{
    (void)state;
    run_all(KERN_AVX512);
}

static void test_reference_avx2_kernels(void **state)
{
    (void)state;
    run_all(KERN_AVX2);
}

static void test_reference_scalar_kernels(void **state)
{
    (void)state;
    run_all(KERN_SCALAR);
}

int main(void)
{
    test_require_shared_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_avx512_kernels),
        cmocka_unit_test(test_reference_avx2_kernels),
        cmocka_unit_test(test_reference_scalar_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
