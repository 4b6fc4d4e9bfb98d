/* Test helpers for the engine: open an engine on a tiny model, run requests to the end
 * and collect their tokens. Header-only (static functions), for tests/unit/test_engine_*. */
#ifndef KVSPILL_TEST_ENGINE_FIXTURE_H
#define KVSPILL_TEST_ENGINE_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "model_fixture.h"

#define FX_MAX_OUT 256

typedef struct fx_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t id;
    int32_t out[FX_MAX_OUT];
    uint32_t n_out;
    bool done;
    engine_finish finish;
    uint32_t cached, prompt_tokens, completion_tokens;
    bool bad_order; /* an event after done, or a token without has_token order */
} fx_run;

static void fx_on_event(void *user, const engine_event *ev)
{
    fx_run *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->done)
        r->bad_order = true;
    if (ev->has_token && r->n_out < FX_MAX_OUT)
        r->out[r->n_out++] = ev->token;
    r->cached = ev->cached_tokens;
    r->prompt_tokens = ev->prompt_tokens;
    r->completion_tokens = ev->completion_tokens;
    if (ev->done) {
        r->done = true;
        r->finish = ev->finish;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static inline void fx_run_init(fx_run *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static inline void fx_run_destroy(fx_run *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static inline void fx_model_path(char *out /* 4096 */, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "testdata/models/%s.gguf", name);
    test_path(out, test_require_shared_dir(), rel);
}

/* cfg from engine_config_init with the tiny model `name`, 2 threads and small defaults, on
 * the CPU: these tests compare runs exactly, which holds for the CPU kernels whatever the
 * batch; the GPU's equivalents are in tests/gpu. */
static inline void fx_config(engine_config *cfg, char *path /* 4096 */, const char *name)
{
    fx_model_path(path, name);
    engine_config_init(cfg);
    cfg->device = BACKEND_CPU;
    cfg->model_path = path;
    cfg->n_threads = 2;
    cfg->kv_cache_bytes = 64ull << 20;
}

static inline engine *fx_engine(const engine_config *cfg)
{
    engine *e = NULL;
    engine_error err = {{0}};
    if (engine_create(cfg, &e, &err) != 0)
        fail_msg("engine_create: %s", err.msg);
    return e;
}

/* Greedy, at most max_tokens tokens. */
static inline void fx_submit(engine *e, fx_run *r, const int32_t *prompt, size_t n,
                             uint32_t max_tokens, const char *salt)
{
    fx_run_init(r);
    engine_request req = {0};
    req.prompt = prompt;
    req.n_prompt = n;
    req.sampling = sampler_config_default();
    req.sampling.max_tokens = max_tokens;
    req.cache_salt = salt;
    req.on_event = fx_on_event;
    req.user = r;
    engine_error err = {{0}};
    if (engine_submit(e, &req, &r->id, &err) != 0)
        fail_msg("engine_submit: %s", err.msg);
}

static inline void fx_wait(fx_run *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    assert_false(r->bad_order);
}

static inline void fx_generate(engine *e, fx_run *r, const int32_t *prompt, size_t n,
                               uint32_t max_tokens, const char *salt)
{
    fx_submit(e, r, prompt, n, max_tokens, salt);
    fx_wait(r);
}

static inline void fx_assert_same_output(const fx_run *a, const fx_run *b)
{
    assert_int_equal(a->n_out, b->n_out);
    for (uint32_t i = 0; i < a->n_out; i++)
        if (a->out[i] != b->out[i])
            fail_msg("token %u differs: %d vs %d", i, a->out[i], b->out[i]);
}

static inline bool fx_sanitized(void) { return getenv("KVSPILL_SANITIZED") != NULL; }

#endif
