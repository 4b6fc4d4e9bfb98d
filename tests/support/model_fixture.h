/* Test helpers for the forward pass: load a model of testdata/models, read the reference
 * token/position lists and logits, compare logit rows. Header-only (static functions), so
 * only the tests that include it carry it. */
#ifndef KVSPILL_TEST_MODEL_FIXTURE_H
#define KVSPILL_TEST_MODEL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/forward.h"
#include "model/gguf.h"
#include "model/model.h"
#include "testutil.h"

typedef struct fixture_model {
    gguf_file *gf;
    model *m;
} fixture_model;

static inline void fixture_load(fixture_model *fm, const char *name)
{
    char rel[512], path[4096];
    snprintf(rel, sizeof rel, "testdata/models/%s.gguf", name);
    test_path(path, test_require_shared_dir(), rel);
    model_error err = {{0}};
    if (gguf_open(path, &fm->gf, &err) != 0)
        fail_msg("%s", err.msg);
    if (model_load(fm->gf, &fm->m, &err) != 0)
        fail_msg("%s", err.msg);
}

static inline void fixture_free(fixture_model *fm)
{
    model_free(fm->m);
    gguf_close(fm->gf);
}

/* Whitespace-separated integers of testdata/reference/NAME into a malloc'd array. */
static inline int32_t *fixture_ints(const char *name, uint32_t *n)
{
    char rel[512], path[4096];
    snprintf(rel, sizeof rel, "testdata/reference/%s", name);
    test_path(path, test_require_shared_dir(), rel);
    size_t size;
    char *text = test_read_file(path, &size);
    assert_non_null(text);
    int32_t *v = malloc((size / 2 + 1) * sizeof *v);
    assert_non_null(v);
    *n = 0;
    for (char *p = text, *end; *p; p = end) {
        long x = strtol(p, &end, 10);
        if (end == p)
            break;
        v[(*n)++] = (int32_t)x;
    }
    free(text);
    return v;
}

static inline float *fixture_logits(const char *name, size_t n_floats)
{
    char rel[512], path[4096];
    snprintf(rel, sizeof rel, "testdata/reference/%s", name);
    test_path(path, test_require_shared_dir(), rel);
    size_t size;
    float *v = (float *)(void *)test_read_file(path, &size);
    assert_non_null(v);
    assert_int_equal(size, n_floats * sizeof(float));
    return v;
}

/* One reference case of testdata/reference: the prompt's tokens, the positions whose logits
 * were recorded and those logits, and the greedy continuation. */
typedef struct fixture_reference {
    int32_t *tokens, *positions, *greedy;
    uint32_t n_tok, n_pos, n_greedy;
    float *logits; /* n_pos × vocab */
} fixture_reference;

static inline void fixture_reference_load(fixture_reference *r, const char *model_name,
                                          const char *prompt, uint32_t vocab)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s.tokens.txt", model_name, prompt);
    r->tokens = fixture_ints(name, &r->n_tok);
    snprintf(name, sizeof name, "%s.%s.positions.txt", model_name, prompt);
    r->positions = fixture_ints(name, &r->n_pos);
    snprintf(name, sizeof name, "%s.%s.greedy.txt", model_name, prompt);
    r->greedy = fixture_ints(name, &r->n_greedy);
    snprintf(name, sizeof name, "%s.%s.logits.f32", model_name, prompt);
    r->logits = fixture_logits(name, (size_t)r->n_pos * vocab);
}

static inline void fixture_reference_free(fixture_reference *r)
{
    free(r->tokens);
    free(r->positions);
    free(r->greedy);
    free(r->logits);
}

/* ‖a − b‖ / ‖b‖ */
static inline double fixture_rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return sqrt(num / (den > 0.0 ? den : 1.0));
}

/* The largest fixture_rel_l2 over rows of n_vocab logits. */
static inline double fixture_worst_rel_l2(const float *a, const float *b, uint32_t n_rows,
                                          uint32_t n_vocab)
{
    double worst = 0.0;
    for (uint32_t r = 0; r < n_rows; r++) {
        double e = fixture_rel_l2(a + (size_t)r * n_vocab, b + (size_t)r * n_vocab, n_vocab);
        worst = e > worst ? e : worst;
    }
    return worst;
}

static inline uint32_t fixture_argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* The batch of tokens [0, n) of seq at positions pos0, pos0 + 1, ..., with the logits of
 * out_rows (n_out of them); free it with fixture_batch_free. */
static inline fwd_batch fixture_batch(const int32_t *tokens, uint32_t n, uint32_t pos0,
                                      uint32_t seq, const uint32_t *out_rows, uint32_t n_out)
{
    uint32_t *pos = malloc(n * sizeof *pos), *sq = malloc(n * sizeof *sq);
    assert_non_null(pos);
    assert_non_null(sq);
    for (uint32_t i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        sq[i] = seq;
    }
    return (fwd_batch){n, tokens, pos, sq, n_out, out_rows};
}

static inline void fixture_batch_free(fwd_batch *b)
{
    free((uint32_t *)b->pos);
    free((uint32_t *)b->seq);
}

/* Evaluates tokens [0, n) of seq starting at position pos0 in one batch (fixture_batch);
 * logits of the rows listed in out_rows go to logits. */
static inline void fixture_eval(fwd_ctx *fc, kv_cache *kv, const int32_t *tokens, uint32_t n,
                                uint32_t pos0, uint32_t seq, const uint32_t *out_rows,
                                uint32_t n_out, float *logits)
{
    fwd_batch b = fixture_batch(tokens, n, pos0, seq, out_rows, n_out);
    model_error err = {{0}};
    if (fwd_eval(fc, kv, &b, logits, &err) != 0)
        fail_msg("%s", err.msg);
    fixture_batch_free(&b);
}

/* Under ASan/UBSan (make check-asan sets KVSPILL_SANITIZED=1) tests cut their longest cases. */
static inline int fixture_sanitized(void)
{
#ifdef KVSPILL_SANITIZE
    return 1;
#else
    const char *s = getenv("KVSPILL_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
#endif
}

#endif
