/* Engines for the TTFT benchmark, configured as `kvspill serve` configures them from the
 * LMCACHE_* variables, and a synchronous request runner on top of the event callback. */
#include "tools/bench/ttft_engine.h"
#include "tools/bench/bench_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ttft_engine_open(const ttft_setup *s, engine **out)
{
    engine_config ec;
    engine_config_init(&ec);
    ec.model_path = s->model;
    ec.device = s->device;
    ec.n_threads = s->threads;
    ec.max_model_len = s->max_len;
    ec.enable_prefix_caching = s->apc;
    kvs_config kc;
    kvs_config_init(&kc);
    if (s->dir) {
        char url[4200];
        snprintf(url, sizeof url, "file://%s", s->dir);
        kvs_error kerr;
        /* 1 GiB of GPU staging holds the chunks of a 32k-token TinyLlama-shaped prompt. */
        if (kvs_config_set(&kc, s->gds ? "gds_path" : "local_disk", url, &kerr) != KVS_OK ||
            kvs_config_set(&kc, s->gds ? "max_gds_size" : "max_local_disk_size", "16",
                           &kerr) != KVS_OK ||
            (s->gds && kvs_config_set(&kc, "cufile_buffer_size", "1024", &kerr) != KVS_OK) ||
            kvs_config_set(&kc, "local_cpu", s->mem_tier ? "true" : "false", &kerr) != KVS_OK) {
            fprintf(stderr, "kvspill bench ttft: %s\n", kerr.msg);
            return -1;
        }
        ec.kv_role = ENGINE_KV_BOTH;
        ec.offload = &kc;
        ec.chunk_size = s->chunk;
        ec.kv_codec = s->codec;
    }
    engine_error err;
    if (engine_create(&ec, out, &err)) {
        fprintf(stderr, "kvspill bench ttft: %s\n", err.msg);
        return -1;
    }
    return 0;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, failed;
    double t_first, t_second;
    uint32_t cached, n, cap;
    int32_t *tokens;
} waiter;

static void on_event(void *user, const engine_event *ev)
{
    waiter *w = user;
    double t = bench_now_s();
    pthread_mutex_lock(&w->mu);
    if (ev->has_token) {
        if (!w->t_first)
            w->t_first = t;
        else if (!w->t_second)
            w->t_second = t;
        if (w->n < w->cap)
            w->tokens[w->n++] = ev->token;
    }
    w->cached = ev->cached_tokens;
    if (ev->done) {
        w->done = true;
        w->failed = ev->finish == ENGINE_FINISH_ERROR || ev->finish == ENGINE_FINISH_CANCELLED;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

int ttft_run(engine *e, const int32_t *prompt, size_t n, uint32_t max_tokens, ttft_sample *out)
{
    memset(out, 0, sizeof *out);
    waiter w = {.cap = max_tokens};
    w.tokens = malloc((max_tokens ? max_tokens : 1) * sizeof *w.tokens);
    if (!w.tokens)
        return -1;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    engine_request req = {.prompt = prompt, .n_prompt = n, .on_event = on_event, .user = &w};
    req.sampling = sampler_config_default();
    req.sampling.max_tokens = max_tokens;
    engine_error err;
    uint64_t id;
    double t0 = bench_now_s();
    int rc = engine_submit(e, &req, &id, &err);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.failed || !w.t_first ? -1 : 0;
    } else {
        fprintf(stderr, "kvspill bench ttft: %s\n", err.msg);
    }
    out->ttft_s = w.t_first - t0;
    out->step_s = w.t_second ? w.t_second - w.t_first : 0;
    out->cached = w.cached;
    out->tokens = w.tokens;
    out->n_tokens = w.n;
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

uint64_t ttft_bytes_read(engine *e)
{
    engine_stats st;
    engine_get_stats(e, &st);
    uint64_t b = 0;
    for (uint32_t i = 0; i < st.offload.n_tiers && i < KVS_MAX_TIERS; i++)
        b += st.offload.tiers[i].bytes_read;
    return b;
}

void ttft_wait_stores(engine *e)
{
    for (int i = 0; i < 3000; i++) {
        engine_stats st;
        engine_get_stats(e, &st);
        if (st.offload.write_queue_bytes == 0)
            return;
        usleep(10000);
    }
}
