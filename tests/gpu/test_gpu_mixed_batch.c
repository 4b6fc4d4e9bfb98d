/* Mixed batches on the CUDA backend: two sequences evaluated together, one in prefill while
 * the other decodes, in chunks that start and end inside KV blocks, give the logits each
 * sequence gets when evaluated alone (same backend, same cache type). */
#include "gpu_fixture.h"

#define LEN_A 23
#define LEN_B 41
#define N_DECODE 3

/* Logits of the last prompt row and of N_DECODE decode steps of one sequence alone. */
static void alone(backend *b, const model *m, const int32_t *prompt, uint32_t len,
                  const int32_t *decode, float *out)
{
    uint32_t vocab = m->hp.n_vocab, last = len - 1, first = 0;
    kv_cache *kv = gpu_kv(b, m, 1, len + N_DECODE, KV_F16);
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

static void expect_close(const float *got, const float *want, uint32_t vocab, const char *what)
{
    double e = fixture_rel_l2(got, want, vocab);
    print_message("  %-28s rel L2 vs alone %.3g\n", what, e);
    assert_true(e <= 1e-4);
}

static void test_prefill_and_decode_together(void **state)
{
    (void)state;
    fixture_model fm;
    gpu_gen_model(&fm, "mixed", GGML_TYPE_F16, MODEL_GEN_UNIFORM);
    uint32_t vocab = fm.m->hp.n_vocab;
    int32_t a[LEN_A + N_DECODE], bt[LEN_B + N_DECODE];
    gpu_tokens(a, LEN_A + N_DECODE, vocab, 1);
    gpu_tokens(bt, LEN_B + N_DECODE, vocab, 2);
    backend *gpu = gpu_cuda_backend(fm.m);
    size_t row = vocab;
    float *want_a = malloc((N_DECODE + 1) * row * sizeof(float));
    float *want_b = malloc((N_DECODE + 1) * row * sizeof(float));
    float *got = malloc(4 * row * sizeof(float));
    assert_non_null(want_a);
    assert_non_null(want_b);
    assert_non_null(got);
    alone(gpu, fm.m, a, LEN_A, a + LEN_A, want_a);
    alone(gpu, fm.m, bt, LEN_B, bt + LEN_B, want_b);

    kv_cache *kv = gpu_kv(gpu, fm.m, 2, LEN_B + N_DECODE, KV_F16);
    /* Step 1: all of A and the first 19 tokens of B (interleaved rows). */
    step s = {0};
    for (uint32_t i = 0; i < LEN_B; i++) {
        if (i < LEN_A)
            add(&s, a[i], i, 0, i == LEN_A - 1);
        if (i < 19)
            add(&s, bt[i], i, 1, false);
    }
    eval_step(gpu, kv, &s, got);
    expect_close(got, want_a, vocab, "A prefill (with B's start)");
    /* Step 2: A's first decode token with the rest of B. */
    s = (step){0};
    add(&s, a[LEN_A], LEN_A, 0, true);
    for (uint32_t i = 19; i < LEN_B; i++)
        add(&s, bt[i], i, 1, i == LEN_B - 1);
    eval_step(gpu, kv, &s, got);
    expect_close(got, want_a + row, vocab, "A decode 1 (with B's rest)");
    expect_close(got + row, want_b, vocab, "B prefill (in two steps)");
    /* Steps 3 and 4: both decode, B's row first. */
    for (uint32_t d = 0; d < 2; d++) {
        s = (step){0};
        add(&s, bt[LEN_B + d], LEN_B + d, 1, true);
        add(&s, a[LEN_A + 1 + d], LEN_A + 1 + d, 0, true);
        eval_step(gpu, kv, &s, got);
        expect_close(got, want_b + (d + 1) * row, vocab, d ? "B decode 2" : "B decode 1");
        expect_close(got + row, want_a + (d + 2) * row, vocab, d ? "A decode 3" : "A decode 2");
    }

    kv_cache_destroy(kv);
    free(got);
    free(want_b);
    free(want_a);
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
