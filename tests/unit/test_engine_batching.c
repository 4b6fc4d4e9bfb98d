/* Continuous batching: many concurrent requests from several threads give each the output
 * it gets alone (greedy); cancelling frees the blocks; a KV cache too small for everyone
 * preempts and recomputes with the same outputs. */
#include "engine_fixture.h"

#define N_REQ 24
#define N_GEN 10

typedef struct setup {
    int32_t *tok;
    uint32_t n;
    uint32_t off[N_REQ], len[N_REQ];
    fx_run alone[N_REQ];
    char path[4096];
} setup;

static int setup_fn(void **state)
{
    setup *s = calloc(1, sizeof *s);
    s->tok = fixture_ints("tiny-f16.long.tokens.txt", &s->n);
    uint32_t max_len = fx_sanitized() ? 40 : 90;
    for (int i = 0; i < N_REQ; i++) {
        s->off[i] = (uint32_t)(i * 37) % (s->n - max_len);
        s->len[i] = 5 + (uint32_t)(i * 13) % (max_len - 5);
    }
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    cfg.enable_prefix_caching = false;
    engine *e = fx_engine(&cfg);
    for (int i = 0; i < N_REQ; i++)
        fx_generate(e, &s->alone[i], s->tok + s->off[i], s->len[i], N_GEN, NULL);
    engine_destroy(e);
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

typedef struct submitter {
    setup *s;
    engine *e;
    fx_run *runs;
    int first, step;
} submitter;

static void *submit_some(void *arg)
{
    submitter *t = arg;
    for (int i = t->first; i < N_REQ; i += t->step)
        fx_submit(t->e, &t->runs[i], t->s->tok + t->s->off[i], t->s->len[i], N_GEN, NULL);
    return NULL;
}

static void run_concurrent(setup *s, engine *e)
{
    fx_run *runs = calloc(N_REQ, sizeof *runs);
    pthread_t th[4];
    submitter sub[4];
    for (int i = 0; i < 4; i++) {
        sub[i] = (submitter){s, e, runs, i, 4};
        assert_int_equal(pthread_create(&th[i], NULL, submit_some, &sub[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N_REQ; i++) {
        fx_wait(&runs[i]);
        assert_int_equal(runs[i].finish, s->alone[i].finish);
        fx_assert_same_output(&runs[i], &s->alone[i]);
        fx_run_destroy(&runs[i]);
    }
    free(runs);
}

static void wait_all_free(engine *e)
{
    engine_stats st;
    for (int i = 0; i < 500; i++) {
        engine_get_stats(e, &st);
        if (st.kv_blocks_free == st.kv_blocks_total && st.requests_running == 0)
            return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("blocks still held: %llu of %llu free", (unsigned long long)st.kv_blocks_free,
             (unsigned long long)st.kv_blocks_total);
}

static void test_concurrent_same_as_alone(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    cfg.max_num_batched_tokens = 64; /* forces chunked prefill beside decodes */
    engine *e = fx_engine(&cfg);
    run_concurrent(s, e);
    wait_all_free(e);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.requests_total, N_REQ);
    assert_int_equal(st.generation_tokens_total, N_REQ * N_GEN);
    assert_int_equal(st.preemptions, 0);
    engine_destroy(e);
}

static void test_cancel_frees_blocks(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    engine *e = fx_engine(&cfg);
    fx_run r, w;
    fx_submit(e, &r, s->tok, 50, 1000, NULL);
    /* Wait for a few tokens, then cancel. */
    for (;;) {
        pthread_mutex_lock(&r.mu);
        uint32_t n = r.n_out;
        pthread_mutex_unlock(&r.mu);
        if (n >= 3)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    engine_cancel(e, r.id);
    fx_wait(&r);
    assert_int_equal(r.finish, ENGINE_FINISH_CANCELLED);
    assert_true(r.n_out < 1000);
    wait_all_free(e);
    /* Cancelling an unknown or finished id is harmless; a waiting request can be cancelled. */
    engine_cancel(e, r.id);
    engine_cancel(e, 987654);
    fx_generate(e, &w, s->tok, 20, 3, NULL);
    assert_int_equal(w.n_out, 3);
    engine_destroy(e);
}

static void test_preemption_same_outputs(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    engine *probe = fx_engine(&cfg);
    const model_hparams *hp = &engine_model(probe)->hp;
    uint64_t block = 2ull * hp->n_layer * 16 * hp->n_head_kv * hp->head_dim * 2;
    engine_destroy(probe);
    /* Room for the longest request alone, not for all of them. */
    cfg.kv_cache_bytes = block * ((fx_sanitized() ? 40 : 90) + N_GEN + 15) / 16;
    cfg.enable_prefix_caching = false;
    engine *e = fx_engine(&cfg);
    run_concurrent(s, e);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_true(st.preemptions > 0);
    wait_all_free(e);
    engine_destroy(e);
}

static void test_submit_rejects(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    cfg.max_model_len = 64;
    engine *e = fx_engine(&cfg);
    engine_request req = {0};
    req.sampling = sampler_config_default();
    req.on_event = fx_on_event;
    uint64_t id;
    engine_error err = {{0}};
    req.prompt = s->tok;
    assert_int_equal(engine_submit(e, &req, &id, &err), -1); /* empty */
    req.n_prompt = 65;
    assert_int_equal(engine_submit(e, &req, &id, &err), -1);
    assert_non_null(strstr(err.msg, "max_model_len"));
    int32_t bad[2] = {1, 32000};
    req.prompt = bad;
    req.n_prompt = 2;
    assert_int_equal(engine_submit(e, &req, &id, &err), -1);
    assert_non_null(strstr(err.msg, "vocabulary"));
    /* A prompt of max_model_len tokens gets one token, then LENGTH. */
    fx_run r;
    fx_generate(e, &r, s->tok, 64, 0, NULL);
    assert_int_equal(r.n_out, 1);
    assert_int_equal(r.finish, ENGINE_FINISH_LENGTH);
    fx_generate(e, &r, s->tok, 50, 0, NULL);
    assert_int_equal(r.n_out, 14);
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_same_as_alone),
        cmocka_unit_test(test_cancel_frees_blocks),
        cmocka_unit_test(test_preemption_same_outputs),
        cmocka_unit_test(test_submit_rejects),
    };
    return cmocka_run_group_tests(tests, setup_fn, teardown_fn);
}
