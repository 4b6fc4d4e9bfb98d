/* Automatic prefix caching through the engine: a repeated prompt reuses its full blocks
 * (at most n_prompt - 1 tokens) with the same greedy output as without the cache; a shared
 * first part reuses only those blocks; cache_salt isolates tenants. */
#include "engine_fixture.h"

typedef struct setup {
    int32_t *tok;
    uint32_t n;
    char path[4096];
} setup;

static int setup_fn(void **state)
{
    setup *s = calloc(1, sizeof *s);
    s->tok = fixture_ints("tiny-f32.long.tokens.txt", &s->n);
    s->n = fx_sanitized() ? 60 : 200;
    *state = s;
    return 0;
}

static int teardown_fn(void **state)
{
    setup *s = *state;
    free(s->tok);
    free(s);
    return 0;
}

static void test_repeat_and_partial(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f32");
    cfg.enable_prefix_caching = false;
    engine *off = fx_engine(&cfg);
    fx_run ref, ref2;
    fx_generate(off, &ref, s->tok, s->n, 12, NULL);
    int32_t *other = malloc(s->n * sizeof *other);
    memcpy(other, s->tok, s->n * sizeof *other);
    uint32_t split = 40; /* 2 full blocks shared, then different tokens */
    for (uint32_t i = split; i < s->n; i++)
        other[i] = (s->tok[i] + 17) % 32000;
    fx_generate(off, &ref2, other, s->n, 12, NULL);
    engine_destroy(off);

    cfg.enable_prefix_caching = true;
    engine *e = fx_engine(&cfg);
    fx_run a, b, c, d;
    fx_generate(e, &a, s->tok, s->n, 12, NULL);
    assert_int_equal(a.cached, 0);
    assert_int_equal(a.finish, ENGINE_FINISH_LENGTH);
    assert_int_equal(a.completion_tokens, 12);
    fx_assert_same_output(&a, &ref);
    fx_generate(e, &b, s->tok, s->n, 12, NULL);
    assert_int_equal(b.cached, (s->n - 1) / 16 * 16);
    fx_assert_same_output(&b, &ref);
    fx_generate(e, &c, other, s->n, 12, NULL);
    assert_int_equal(c.cached, 32);
    fx_assert_same_output(&c, &ref2);
    /* A prompt of exactly whole blocks still computes its last token. */
    fx_generate(e, &d, s->tok, 48, 4, NULL);
    assert_int_equal(d.cached, 32);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.prefix_cache_hits, b.cached + c.cached + d.cached);
    assert_int_equal(st.prefix_cache_queries, 3 * s->n + 48);
    assert_int_equal(st.requests_total, 4);
    assert_int_equal(st.ttft.count, 4);
    engine_destroy(e);
    free(other);
}

static void test_salt_isolates(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    engine *e = fx_engine(&cfg);
    fx_run a, b, c, d;
    fx_generate(e, &a, s->tok, s->n, 6, "tenant-a");
    fx_generate(e, &b, s->tok, s->n, 6, "tenant-b");
    assert_int_equal(b.cached, 0);
    fx_generate(e, &c, s->tok, s->n, 6, NULL);
    assert_int_equal(c.cached, 0);
    fx_generate(e, &d, s->tok, s->n, 6, "tenant-a");
    assert_true(d.cached > 0);
    fx_assert_same_output(&a, &b);
    fx_assert_same_output(&a, &d);
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_and_partial),
        cmocka_unit_test(test_salt_isolates),
    };
    return cmocka_run_group_tests(tests, setup_fn, teardown_fn);
}
