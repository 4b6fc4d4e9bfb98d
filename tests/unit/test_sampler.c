/* Sampling against hand-computed distributions: logits log(1..4) give p = .1 .2 .3 .4. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler.h"

#define DRAWS 40000

static void base_logits(float *l)
{
    for (int i = 0; i < 4; i++)
        l[i] = logf((float)(i + 1));
}

/* Frequencies of each of the 4 tokens over DRAWS draws. */
static void histogram(const sampler_config *cfg, double freq[4])
{
    sampler *s;
    model_error err;
    assert_int_equal(sampler_create(cfg, 4, &s, &err), 0);
    int counts[4] = {0};
    for (int i = 0; i < DRAWS; i++) {
        float l[4];
        base_logits(l);
        int32_t t = sampler_sample(s, l);
        assert_true(t >= 0 && t < 4);
        counts[t]++;
    }
    for (int i = 0; i < 4; i++)
        freq[i] = counts[i] / (double)DRAWS;
    sampler_destroy(s);
}

static void expect(const double freq[4], const double p[4])
{
    for (int i = 0; i < 4; i++)
        if (fabs(freq[i] - p[i]) > 0.012)
            fail_msg("token %d: frequency %.4f, expected %.4f", i, freq[i], p[i]);
}

static void test_greedy_is_argmax(void **state)
{
    (void)state;
    sampler_config cfg = sampler_config_default();
    sampler *s;
    model_error err;
    assert_int_equal(sampler_create(&cfg, 5, &s, &err), 0);
    float l[5] = {0.5f, 3.0f, -1.0f, 2.9f, 3.0f};
    assert_int_equal(sampler_sample(s, l), 1); /* first of the ties */
    sampler_destroy(s);
}

static void test_temperature_one_and_two(void **state)
{
    (void)state;
    sampler_config cfg = sampler_config_default();
    cfg.temperature = 1.0f;
    cfg.seed = 7;
    double f[4];
    histogram(&cfg, f);
    expect(f, (double[]){0.1, 0.2, 0.3, 0.4});
    cfg.temperature = 2.0f; /* p ∝ sqrt(1..4) */
    histogram(&cfg, f);
    double z = 1 + sqrt(2) + sqrt(3) + 2;
    expect(f, (double[]){1 / z, sqrt(2) / z, sqrt(3) / z, 2 / z});
}

static void test_top_k_top_p_min_p(void **state)
{
    (void)state;
    sampler_config cfg = sampler_config_default();
    cfg.temperature = 1.0f;
    cfg.seed = 11;
    double f[4];
    cfg.top_k = 2; /* tokens 3, 2: .4/.7 and .3/.7 */
    histogram(&cfg, f);
    expect(f, (double[]){0, 0, 3.0 / 7, 4.0 / 7});
    cfg.top_k = 0;
    cfg.top_p = 0.65f; /* .4 + .3 reaches .65: the same two */
    histogram(&cfg, f);
    expect(f, (double[]){0, 0, 3.0 / 7, 4.0 / 7});
    cfg.top_p = 0.75f; /* needs .2 as well */
    histogram(&cfg, f);
    expect(f, (double[]){0, 2.0 / 9, 3.0 / 9, 4.0 / 9});
    cfg.top_p = 1.0f;
    cfg.min_p = 0.6f; /* keep p >= .24: tokens 2, 3 */
    histogram(&cfg, f);
    expect(f, (double[]){0, 0, 3.0 / 7, 4.0 / 7});
}

static void test_seed_determinism(void **state)
{
    (void)state;
    sampler_config cfg = sampler_config_default();
    cfg.temperature = 1.0f;
    int32_t runs[3][64];
    uint64_t seeds[3] = {42, 42, 43};
    for (int r = 0; r < 3; r++) {
        cfg.seed = seeds[r];
        sampler *s;
        model_error err;
        assert_int_equal(sampler_create(&cfg, 4, &s, &err), 0);
        for (int i = 0; i < 64; i++) {
            float l[4];
            base_logits(l);
            runs[r][i] = sampler_sample(s, l);
        }
        sampler_destroy(s);
    }
    assert_memory_equal(runs[0], runs[1], sizeof runs[0]);
    assert_memory_not_equal(runs[0], runs[2], sizeof runs[0]);
}

static void test_penalties(void **state)
{
    (void)state;
    sampler_config cfg = sampler_config_default();
    cfg.repetition_penalty = 2.0f;
    cfg.frequency_penalty = 0.5f;
    cfg.presence_penalty = 0.25f;
    sampler *s;
    model_error err;
    assert_int_equal(sampler_create(&cfg, 4, &s, &err), 0);
    sampler_accept(s, 0);
    sampler_accept(s, 3);
    sampler_accept(s, 3);
    float l[4] = {2.0f, 1.0f, -1.0f, -2.0f};
    (void)sampler_sample(s, l);
    /* token 0: 2/2 − 0.5 − 0.25; token 3: −2·2 − 2·0.5 − 0.25; others untouched */
    assert_float_equal(l[0], 0.25f, 1e-6);
    assert_float_equal(l[1], 1.0f, 1e-6);
    assert_float_equal(l[2], -1.0f, 1e-6);
    assert_float_equal(l[3], -5.25f, 1e-6);
    sampler_destroy(s);

    cfg.penalty_last_n = 1; /* only the last 3 counts */
    assert_int_equal(sampler_create(&cfg, 4, &s, &err), 0);
    sampler_accept(s, 0);
    sampler_accept(s, 3);
    float m[4] = {2.0f, 1.0f, -1.0f, -2.0f};
    (void)sampler_sample(s, m);
    assert_float_equal(m[0], 2.0f, 1e-6);
    assert_float_equal(m[3], -4.75f, 1e-6);
    sampler_destroy(s);
}

static void test_logit_bias_and_ban(void **state)
{
    (void)state;
    sampler_bias bias[2] = {{3, -INFINITY}, {1, 10.0f}};
    sampler_config cfg = sampler_config_default();
    cfg.bias = bias;
    cfg.n_bias = 1;
    cfg.temperature = 1.0f;
    double f[4];
    histogram(&cfg, f); /* token 3 banned: .1 .2 .3 renormalised */
    expect(f, (double[]){1.0 / 6, 2.0 / 6, 3.0 / 6, 0});
    cfg.n_bias = 2;
    cfg.temperature = 0.0f;
    sampler *s;
    model_error err;
    assert_int_equal(sampler_create(&cfg, 4, &s, &err), 0);
    float l[4];
    base_logits(l);
    assert_int_equal(sampler_sample(s, l), 1);
    sampler_destroy(s);
    bias[0].token = 4;
    assert_int_equal(sampler_create(&cfg, 4, &s, &err), -1);
    assert_non_null(strstr(err.msg, "token 4 outside the vocabulary"));
}

static void test_stop_conditions(void **state)
{
    (void)state;
    int32_t stops[2] = {2, 7};
    sampler_config cfg = sampler_config_default();
    cfg.stop_tokens = stops;
    cfg.n_stop = 2;
    cfg.max_tokens = 5;
    sampler *s;
    model_error err;
    assert_int_equal(sampler_create(&cfg, 8, &s, &err), 0);
    assert_true(sampler_should_stop(s, 7, 1));
    assert_true(sampler_should_stop(s, 2, 1));
    assert_false(sampler_should_stop(s, 3, 4));
    assert_true(sampler_should_stop(s, 3, 5));
    sampler_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_temperature_one_and_two),
        cmocka_unit_test(test_top_k_top_p_min_p),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_logit_bias_and_ban),
        cmocka_unit_test(test_stop_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
