/* Mixed batches on the CUDA backend: two sequences evaluated together, one in prefill while
 * the other decodes, in chunks that start and end inside KV blocks, give the logits each
 * sequence gets when evaluated alone (same backend, same cache type), F32 and F16 caches.
 *
 * Only the summation order of the products may change with the batch size (cuBLAS picks its
 * kernel by shape), so the model has F32 weights: with F16 weights the activations are
 * rounded to F16 before each product, a value near a rounding edge goes one way alone and
 * the other way batched, and a CPU emulation of the device whose GEMM sums backwards for
 * even batch sizes (tests/gpu/emu, EMU_GEMM_ORDER_BY_N=1) moved the logits by 4e-4. With F32
 * weights it moves them by 1e-6 with an F32 cache and 3e-5 with an F16 one (the K and V
 * rounding); a row attending to the wrong positions or blocks moves them by far more. */
#include "gpu_fixture.h"

#define LEN_A 23
#define LEN_B 41
#define N_DECODE 3

/* Logits of the last prompt row and of N_DECODE decode steps of one sequence alone. */
static void alone(backend *b, const model *m, kv_dtype dt, const int32_t *prompt, uint32_t len,
                  const int32_t *decode, float *out)
{
    uint32_t vocab = m->hp.n_vocab, last = len - 1, first = 0;
    kv_cache *kv = gpu_kv(b, m, 1, len + N_DECODE, dt);
    gpu_eval(b, kv, prompt, len, 0, 0, &last, 1, out);
    for (uint32_t d = 0; d < N_DECODE; d++)
        gpu_eval(b, kv, &decode[d], 1, len + d, 0, &first, 1, out + (size_t)(d + 1) * vocab);
    kv_cache_destroy(kv);
}

typedef struct step {
    uint32_t n;
    int32_t tok[64];
    uint32_t pos[64], seq[64];
    uint32_t n_out, out_rows[4];
} step;

static void add(step *s, int32_t tok, uint32_t pos, uint32_t seq, bool want_logits)
{
    if (want_logits)
        s->out_rows[s->n_out++] = s->n;
    s->tok[s->n] = tok;
    s->pos[s->n] = pos;
    s->seq[s->n++] = seq;
}

static void eval_step(backend *b, kv_cache *kv, const step *s, float *logits)
{
    fwd_batch batch = {s->n, s->tok, s->pos, s->seq, s->n_out, s->out_rows};
    model_error err = {{0}};
    if (b->ops->eval(b, kv, &batch, logits, &err))
        fail_msg("%s", err.msg);
}

static void expect_close(const float *got, const float *want, uint32_t vocab, kv_dtype dt,
                         const char *what)
{
    double e = fixture_rel_l2(got, want, vocab), tol = dt == KV_F16 ? 5e-4 : 1e-4;
    print_message("  kv %s %-28s rel L2 vs alone %.3g (tol %.0e)\n", dt == KV_F16 ? "f16" : "f32",
                  what, e, tol);
    assert_true(e <= tol);
}

static void together(backend *gpu, const model *m, kv_dtype dt)
{
    uint32_t vocab = m->hp.n_vocab;
    int32_t a[LEN_A + N_DECODE], bt[LEN_B + N_DECODE];
    gpu_tokens(a, LEN_A + N_DECODE, vocab, 1);
    gpu_tokens(bt, LEN_B + N_DECODE, vocab, 2);
    size_t row = vocab;
    float *want_a = malloc((N_DECODE + 1) * row * sizeof(float));
    float *want_b = malloc((N_DECODE + 1) * row * sizeof(float));
    float *got = malloc(4 * row * sizeof(float));
    assert_non_null(want_a);
    assert_non_null(want_b);
    assert_non_null(got);
    alone(gpu, m, dt, a, LEN_A, a + LEN_A, want_a);
    alone(gpu, m, dt, bt, LEN_B, bt + LEN_B, want_b);

    kv_cache *kv = gpu_kv(gpu, m, 2, LEN_B + N_DECODE, dt);
    /* Step 1: all of A and the first 19 tokens of B (interleaved rows). */
    step s = {0};
    for (uint32_t i = 0; i < LEN_B; i++) {
        if (i < LEN_A)
            add(&s, a[i], i, 0, i == LEN_A - 1);
        if (i < 19)
            add(&s, bt[i], i, 1, false);
    }
    eval_step(gpu, kv, &s, got);
    expect_close(got, want_a, vocab, dt, "A prefill (with B's start)");
    /* Step 2: A's first decode token with the rest of B. */
    s = (step){0};
    add(&s, a[LEN_A], LEN_A, 0, true);
    for (uint32_t i = 19; i < LEN_B; i++)
        add(&s, bt[i], i, 1, i == LEN_B - 1);
    eval_step(gpu, kv, &s, got);
    expect_close(got, want_a + row, vocab, dt, "A decode 1 (with B's rest)");
    expect_close(got + row, want_b, vocab, dt, "B prefill (in two steps)");
    /* Steps 3 and 4: both decode, B's row first. */
    for (uint32_t d = 0; d < 2; d++) {
        s = (step){0};
        add(&s, bt[LEN_B + d], LEN_B + d, 1, true);
        add(&s, a[LEN_A + 1 + d], LEN_A + 1 + d, 0, true);
        eval_step(gpu, kv, &s, got);
        expect_close(got, want_b + (d + 1) * row, vocab, dt, d ? "B decode 2" : "B decode 1");
        expect_close(got + row, want_a + (d + 2) * row, vocab, dt, d ? "A decode 3" : "A decode 2");
    }

    kv_cache_destroy(kv);
    free(got);
    free(want_b);
    free(want_a);
}

static void test_prefill_and_decode_together(void **state)
{
    (void)state;
    fixture_model fm;
    gpu_gen_model(&fm, "mixed", GGML_TYPE_F32, MODEL_GEN_UNIFORM);
    backend *gpu = gpu_cuda_backend(fm.m);
    together(gpu, fm.m, KV_F32);
    together(gpu, fm.m, KV_F16);
    backend_destroy(gpu);
    fixture_free(&fm);
}

int main(void)
{
    gpu_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefill_and_decode_together),
    };
    return cmocka_run_group_tests(tests, gpu_tmp_setup, gpu_tmp_teardown);
}
