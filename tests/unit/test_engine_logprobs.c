/* Logprobs in the engine: the top-k of a row (engine/token_logprobs.c), the alternatives of
 * every event, prompt logprobs (every prompt token from the second, once, in order, over
 * several steps, with no prefix-cache hit, the same after a preemption) and prompt_only
 * requests on the tiny model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/token_logprobs.h"
#include "engine_fixture.h"
#include "testutil.h"

static void test_top_of_a_row(void **state)
{
    (void)state;
    const float row[6] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, 2.0f};
    double norm = logprobs_normalizer(row, 6), sum = 0;
    for (int i = 0; i < 6; i++)
        sum += exp((double)row[i]);
    assert_true(fabs(norm - log(sum)) < 1e-9);
    engine_alt top[ENGINE_MAX_TOP_LOGPROBS];
    assert_int_equal(logprobs_top(row, 6, norm, 4, top), 4);
    const int32_t want[4] = {1, 3, 5, 0}; /* a tie keeps the lower id first */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(top[i].token, want[i]);
        assert_true(fabs(top[i].logprob - (row[want[i]] - norm)) < 1e-6);
    }
    assert_int_equal(logprobs_top(row, 6, norm, 0, top), 0);
    assert_int_equal(logprobs_top(row, 6, norm, 20, top), 6); /* no more than the vocabulary */
    assert_int_equal(top[5].token, 2);
}

#define MAX_PROMPT 256

typedef struct lp_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t n_prompt_events, next_index;
    float prompt_lp[MAX_PROMPT];
    uint32_t n_tokens, n_top;
    bool out_of_order, top_unsorted, token_before_prompt, done;
    uint32_t cached;
    engine_finish finish;
} lp_run;

static void on_event(void *user, const engine_event *ev)
{
    lp_run *r = user;
    pthread_mutex_lock(&r->mu);
    for (uint32_t i = 1; i < ev->n_top; i++)
        r->top_unsorted |= ev->top[i].logprob > ev->top[i - 1].logprob;
    if (ev->is_prompt) {
        r->out_of_order |= ev->prompt_index != r->next_index || r->n_tokens > 0;
        r->next_index = ev->prompt_index + 1;
        if (ev->prompt_index < MAX_PROMPT)
            r->prompt_lp[ev->prompt_index] = ev->logprob;
        r->n_prompt_events++;
        r->n_top = ev->n_top;
    } else if (ev->has_token) {
        r->token_before_prompt |= r->n_prompt_events == 0;
        r->n_tokens++;
        r->n_top = ev->n_top;
    }
    r->cached = ev->cached_tokens;
    if (ev->done) {
        r->done = true;
        r->finish = ev->finish;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static void submit(engine *e, lp_run *r, const int32_t *prompt, uint32_t n, uint32_t max_tokens,
                   bool prompt_only)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->next_index = 1;
    engine_request req = {.prompt = prompt, .n_prompt = n, .sampling = sampler_config_default(),
                          .top_logprobs = 3, .prompt_logprobs = true,
                          .prompt_only = prompt_only, .on_event = on_event, .user = r};
    req.sampling.max_tokens = max_tokens;
    uint64_t id;
    engine_error err = {{0}};
    if (engine_submit(e, &req, &id, &err) != 0)
        fail_msg("engine_submit: %s", err.msg);
}

static void wait_done(lp_run *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    assert_false(r->out_of_order);
    assert_false(r->top_unsorted);
}

static void make_prompt(int32_t *p, uint32_t n, int32_t salt)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = 1 + (int32_t)((i * 37 + (uint32_t)salt) % 31000);
}

/* 150 prompt tokens: more rows than one step asks for, scored twice (the second time the
 * prefix cache holds the prompt, which prompt logprobs must not use), then generated. */
static void test_prompt_logprobs(void **state)
{
    (void)state;
    char path[4096];
    engine_config cfg;
    fx_config(&cfg, path, "tiny-f32");
    engine *e = fx_engine(&cfg);
    int32_t prompt[150];
    make_prompt(prompt, 150, 5);
    lp_run a, b, c;
    submit(e, &a, prompt, 150, 0, true);
    wait_done(&a);
    assert_int_equal(a.finish, ENGINE_FINISH_LENGTH);
    assert_int_equal(a.n_prompt_events, 149);
    assert_int_equal(a.n_tokens, 0);
    assert_int_equal(a.n_top, 3);
    submit(e, &b, prompt, 150, 0, true);
    wait_done(&b);
    assert_int_equal(b.n_prompt_events, 149);
    assert_int_equal(b.cached, 0);
    for (int i = 1; i < 150; i++)
        if (fabsf(a.prompt_lp[i] - b.prompt_lp[i]) > 1e-5f)
            fail_msg("prompt token %d: %g then %g", i, a.prompt_lp[i], b.prompt_lp[i]);
    submit(e, &c, prompt, 150, 5, false);
    wait_done(&c);
    assert_int_equal(c.n_prompt_events, 149);
    assert_int_equal(c.n_tokens, 5);
    assert_false(c.token_before_prompt);
    assert_true(fabsf(a.prompt_lp[77] - c.prompt_lp[77]) < 1e-5f);
    engine_destroy(e);
}

/* A KV cache of 20 blocks (tiny-f32: 4 KiB each in f16) for four sequences of 13 blocks:
 * they preempt one another, and each still reports every prompt token once, in order. */
static void test_prompt_logprobs_preempted(void **state)
{
    (void)state;
    char path[4096];
    engine_config cfg;
    fx_config(&cfg, path, "tiny-f32");
    cfg.kv_cache_bytes = 20 * 4096;
    engine *e = fx_engine(&cfg);
    enum { N = 4 };
    int32_t prompts[N][150];
    lp_run r[N];
    for (int i = 0; i < N; i++) {
        make_prompt(prompts[i], 150, 11 * i);
        submit(e, &r[i], prompts[i], 150, 50, false);
    }
    for (int i = 0; i < N; i++) {
        wait_done(&r[i]);
        assert_int_equal(r[i].n_prompt_events, 149);
        assert_int_equal(r[i].n_tokens, 50);
    }
    engine_stats st;
    engine_get_stats(e, &st);
    assert_true(st.preemptions > 0);
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_of_a_row),
        cmocka_unit_test(test_prompt_logprobs),
        cmocka_unit_test(test_prompt_logprobs_preempted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
