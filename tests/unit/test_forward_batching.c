/* How tokens are grouped into forward calls must not change the logits: a prompt in one
 * batch, token by token, or split at arbitrary points; two sequences interleaved in one
 * batch against each alone; a decode step of two sequences together against each alone.
 * The whole group runs once per kernel set this CPU has (the tiles differ per set). */
#include "model_fixture.h"

static const kern_set *cur_set; /* the kernel set of the running group */

#define TOL 1e-6 /* same kernels, same per-token arithmetic: only f32 rounding may differ */

typedef struct setup {
    fixture_model fm;
    fwd_ctx *fc;
    int32_t *a, *b; /* two prompts */
    uint32_t na, nb;
    uint32_t vocab;
} setup;

static kv_cache *new_kv(setup *s, uint32_t n_seq)
{
    kv_cache *kv;
    model_error err = {{0}};
    const model_hparams *hp = &s->fm.m->hp;
    assert_int_equal(kv_contiguous_create(NULL, hp->n_layer, hp->n_head_kv, hp->head_dim,
                                          n_seq, 256, KV_F32, &kv, &err), 0);
    return kv;
}

static int setup_fn(void **state)
{
    setup *s = calloc(1, sizeof *s);
    assert_non_null(s);
    fixture_load(&s->fm, "tiny-f32");
    s->vocab = s->fm.m->hp.n_vocab;
    s->a = fixture_ints("tiny-f32.short.tokens.txt", &s->na);
    s->b = fixture_ints("tiny-f32.long.tokens.txt", &s->nb);
    s->nb = 40; /* a different prompt, longer than two KV blocks */
    model_error err = {{0}};
    assert_int_equal(fwd_create(s->fm.m, 2, cur_set, &s->fc, &err), 0);
    *state = s;
    return 0;
}

static int teardown_fn(void **state)
{
    setup *s = *state;
    fwd_destroy(s->fc);
    free(s->a);
    free(s->b);
    fixture_free(&s->fm);
    free(s);
    return 0;
}

/* Logits of every position of tokens[0, n) of one sequence, evaluated in pieces that
 * start at the given split points (ascending, 0 excluded). */
static float *eval_split(setup *s, const int32_t *tokens, uint32_t n, const uint32_t *splits,
                         uint32_t n_splits)
{
    kv_cache *kv = new_kv(s, 1);
    float *out = malloc((size_t)n * s->vocab * sizeof *out);
    uint32_t *rows = malloc(n * sizeof *rows);
    assert_non_null(out);
    assert_non_null(rows);
    for (uint32_t i = 0; i < n; i++)
        rows[i] = i;
    uint32_t start = 0;
    for (uint32_t k = 0; k <= n_splits; k++) {
        uint32_t end = k < n_splits ? splits[k] : n;
        fixture_eval(s->fc, kv, tokens + start, end - start, start, 0, rows, end - start,
                     out + (size_t)start * s->vocab);
        start = end;
    }
    free(rows);
    kv_cache_destroy(kv);
    return out;
}

static void assert_same(const setup *s, const float *x, const float *y, uint32_t n_rows)
{
    for (uint32_t i = 0; i < n_rows; i++) {
        double e = fixture_rel_l2(x + (size_t)i * s->vocab, y + (size_t)i * s->vocab, s->vocab);
        if (e > TOL)
            fail_msg("row %u differs: rel L2 %g", i, e);
    }
}

static void test_one_batch_equals_token_by_token(void **state)
{
    setup *s = *state;
    float *whole = eval_split(s, s->b, s->nb, NULL, 0);
    uint32_t every[64];
    for (uint32_t i = 1; i < s->nb; i++)
        every[i - 1] = i;
    float *single = eval_split(s, s->b, s->nb, every, s->nb - 1);
    assert_same(s, whole, single, s->nb);
    free(single);
    free(whole);
}

static void test_arbitrary_splits(void **state)
{
    setup *s = *state;
    float *whole = eval_split(s, s->b, s->nb, NULL, 0);
    static const uint32_t splits[][3] = {{1, 2, 3}, {5, 16, 17}, {15, 16, 33}, {7, 30, 39}};
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        float *part = eval_split(s, s->b, s->nb, splits[k], 3);
        assert_same(s, whole, part, s->nb);
        free(part);
    }
    free(whole);
}

static void test_two_sequences_in_one_batch(void **state)
{
    setup *s = *state;
    float *alone_a = eval_split(s, s->a, s->na, NULL, 0);
    float *alone_b = eval_split(s, s->b, s->nb, NULL, 0);

    /* Interleave: a token of A, a token of B, ... then the rest of B. */
    uint32_t n = s->na + s->nb;
    int32_t *tok = malloc(n * sizeof *tok);
    uint32_t *pos = malloc(n * sizeof *pos), *seq = malloc(n * sizeof *seq);
    uint32_t *rows = malloc(n * sizeof *rows);
    uint32_t ia = 0, ib = 0, *row_of_a = malloc(s->na * sizeof *row_of_a),
             *row_of_b = malloc(s->nb * sizeof *row_of_b);
    for (uint32_t i = 0; i < n; i++) {
        int take_a = ia < s->na && (i % 2 == 0 || ib == s->nb);
        tok[i] = take_a ? s->a[ia] : s->b[ib];
        pos[i] = take_a ? ia : ib;
        seq[i] = take_a ? 1 : 0;
        if (take_a)
            row_of_a[ia++] = i;
        else
            row_of_b[ib++] = i;
        rows[i] = i;
    }
    kv_cache *kv = new_kv(s, 2);
    float *mixed = malloc((size_t)n * s->vocab * sizeof *mixed);
    fwd_batch bt = {n, tok, pos, seq, n, rows};
    model_error err = {{0}};
    assert_int_equal(fwd_eval(s->fc, kv, &bt, mixed, &err), 0);
    for (uint32_t i = 0; i < s->na; i++)
        assert_same(s, alone_a + (size_t)i * s->vocab, mixed + (size_t)row_of_a[i] * s->vocab, 1);
    for (uint32_t i = 0; i < s->nb; i++)
        assert_same(s, alone_b + (size_t)i * s->vocab, mixed + (size_t)row_of_b[i] * s->vocab, 1);

    /* One decode step of both sequences together, against the single-sequence runs. */
    int32_t next[2] = {(int32_t)fixture_argmax(alone_a + (size_t)(s->na - 1) * s->vocab, s->vocab),
                       (int32_t)fixture_argmax(alone_b + (size_t)(s->nb - 1) * s->vocab, s->vocab)};
    uint32_t dpos[2] = {s->na, s->nb}, dseq[2] = {1, 0}, drows[2] = {1, 0};
    fwd_batch dec = {2, next, dpos, dseq, 2, drows};
    float *two = malloc(2 * (size_t)s->vocab * sizeof *two);
    assert_int_equal(fwd_eval(s->fc, kv, &dec, two, &err), 0);
    float *one = malloc((size_t)s->vocab * sizeof *one);
    for (int k = 0; k < 2; k++) {
        kv_cache *solo = new_kv(s, 1);
        const int32_t *p = k == 0 ? s->a : s->b;
        uint32_t np = k == 0 ? s->na : s->nb, last = np - 1, zero = 0;
        fixture_eval(s->fc, solo, p, np, 0, 0, &last, 1, one);
        fixture_eval(s->fc, solo, &next[k], 1, np, 0, &zero, 1, one);
        /* drows asks for row 1 (B) first, then row 0 (A) */
        assert_same(s, one, two + (size_t)(1 - k) * s->vocab, 1);
        kv_cache_destroy(solo);
    }
    free(one);
    free(two);
    free(mixed);
    kv_cache_destroy(kv);
    free(row_of_a);
    free(row_of_b);
    free(rows);
    free(seq);
    free(pos);
    free(tok);
    free(alone_b);
    free(alone_a);
}

static void test_bad_batches_are_refused(void **state)
{
    setup *s = *state;
    kv_cache *kv = new_kv(s, 1);
    model_error err = {{0}};
    float *out = malloc((size_t)s->vocab * sizeof *out);
    int32_t tok = (int32_t)s->vocab;
    uint32_t pos = 0, seq = 0, row = 0;
    fwd_batch b = {1, &tok, &pos, &seq, 1, &row};
    assert_int_equal(fwd_eval(s->fc, kv, &b, out, &err), -1);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    tok = 1;
    seq = 3;
    assert_int_equal(fwd_eval(s->fc, kv, &b, out, &err), -1);
    assert_non_null(strstr(err.msg, "sequence 3 out of range"));
    seq = 0;
    pos = 256;
    assert_int_equal(fwd_eval(s->fc, kv, &b, out, &err), -1);
    assert_non_null(strstr(err.msg, "exceed the capacity"));
    pos = 0;
    row = 1;
    assert_int_equal(fwd_eval(s->fc, kv, &b, out, &err), -1);
    assert_non_null(strstr(err.msg, "outside the batch"));
    free(out);
    kv_cache_destroy(kv);
}

int main(void)
{
    test_require_shared_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_batch_equals_token_by_token),
        cmocka_unit_test(test_arbitrary_splits),
        cmocka_unit_test(test_two_sequences_in_one_batch),
        cmocka_unit_test(test_bad_batches_are_refused),
    };
    const kern_kind kinds[] = {KERN_SCALAR, KERN_AVX2, KERN_AVX512};
    int failed = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        cur_set = kern_get(kinds[i]);
        if (!cur_set) {
            print_message("%s kernels not available on this CPU: group skipped\n",
                          kern_kind_name(kinds[i]));
            continue;
        }
        print_message("kernels: %s\n", cur_set->name);
        failed += cmocka_run_group_tests(tests, setup_fn, teardown_fn);
    }
    return failed;
}
