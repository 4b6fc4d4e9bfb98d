/* Engine events queued per choice; shared ownership between the engine and HTTP threads. */
#include "server/generation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct gen_choice {
    generation *g;
    uint64_t id;
    bool submitted, cancelled;
    gen_update q;     /* filled by the engine thread; tokens moved out by gen_take */
    bool oom;         /* a token could not be queued: the choice ends as an error */
} gen_choice;

struct generation {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned refs;    /* the HTTP side + submitted choices not yet done */
    engine *e;
    gen_registry *reg;
    double t_start;   /* monotonic seconds at gen_start */
    size_t n;
    gen_choice c[];
};

int gen_registry_init(gen_registry *r)
{
    memset(r, 0, sizeof *r);
    if (pthread_mutex_init(&r->mu, NULL))
        return -1;
    if (pthread_cond_init(&r->idle, NULL)) {
        pthread_mutex_destroy(&r->mu);
        return -1;
    }
    atomic_init(&r->cancel_all, false);
    return 0;
}

void gen_registry_destroy(gen_registry *r)
{
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
}

size_t gen_registry_live(gen_registry *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->live;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

size_t gen_registry_wait_idle(gen_registry *r, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (r->live && pthread_cond_timedwait(&r->idle, &r->mu, &ts) != ETIMEDOUT)
        ;
    size_t n = r->live;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void gen_free(generation *g)
{
    gen_registry *reg = g->reg;
    for (size_t i = 0; i < g->n; i++)
        gen_update_free(&g->c[i].q);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
    pthread_mutex_lock(&reg->mu);
    if (--reg->live == 0)
        pthread_cond_broadcast(&reg->idle);
    pthread_mutex_unlock(&reg->mu);
}

/* Drops one reference; the caller holds g->mu, which this releases. */
static void unref_unlock(generation *g)
{
    bool last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (last)
        gen_free(g);
}

static int push_token(gen_update *u, int32_t token, float logprob)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 64;
        int32_t *t = realloc(u->tokens, cap * sizeof *t);
        if (!t)
            return -1;
        u->tokens = t;
        float *l = realloc(u->logprobs, cap * sizeof *l);
        if (!l)
            return -1;
        u->logprobs = l;
        u->cap = cap;
    }
    u->tokens[u->n] = token;
    u->logprobs[u->n++] = logprob;
    return 0;
}

static void on_event(void *user, const engine_event *ev)
{
    gen_choice *c = user;
    generation *g = c->g;
    pthread_mutex_lock(&g->mu);
    if (ev->has_token && !c->oom && push_token(&c->q, ev->token, ev->logprob))
        c->oom = true;
    c->q.prompt_tokens = ev->prompt_tokens;
    c->q.cached_tokens = ev->cached_tokens;
    c->q.cached_by = ev->cached_by;
    if (ev->has_token && c->q.ttft_ms == 0)
        c->q.ttft_ms = (mono_s() - g->t_start) * 1e3;
    c->q.completion_tokens = ev->completion_tokens;
    pthread_cond_broadcast(&g->cv);
    if (!ev->done) {
        pthread_mutex_unlock(&g->mu);
        return;
    }
    c->q.done = true;
    c->q.finish = ev->finish;
    if (ev->message)
        snprintf(c->q.message, sizeof c->q.message, "%s", ev->message);
    if (c->oom) {
        c->q.finish = ENGINE_FINISH_ERROR;
        snprintf(c->q.message, sizeof c->q.message, "out of memory queueing tokens");
    }
    unref_unlock(g);
}

int gen_start(engine *e, gen_registry *reg, const engine_request *req, size_t n_choices,
              generation **out, api_error *err)
{
    generation *g = calloc(1, sizeof *g + n_choices * sizeof g->c[0]);
    if (!g)
        return api_fail(err, 500, NULL, NULL, "out of memory starting a generation");
    if (pthread_mutex_init(&g->mu, NULL) || pthread_cond_init(&g->cv, NULL)) {
        free(g);
        return api_fail(err, 500, NULL, NULL, "cannot create a generation's lock");
    }
    g->e = e;
    g->reg = reg;
    g->t_start = mono_s();
    g->n = n_choices;
    g->refs = 1;
    pthread_mutex_lock(&reg->mu);
    reg->live++;
    pthread_mutex_unlock(&reg->mu);
    for (size_t i = 0; i < n_choices; i++) {
        gen_choice *c = &g->c[i];
        c->g = g;
        engine_request r = *req;
        r.sampling.seed = req->sampling.seed + i;
        r.on_event = on_event;
        r.user = c;
        engine_error eerr;
        /* The reference is taken before submitting: the final event may come at once. */
        pthread_mutex_lock(&g->mu);
        g->refs++;
        pthread_mutex_unlock(&g->mu);
        if (engine_submit(e, &r, &c->id, &eerr) != 0) {
            pthread_mutex_lock(&g->mu);
            g->refs--;
            pthread_mutex_unlock(&g->mu);
            api_fail(err, atomic_load(&reg->cancel_all) ? 503 : 400, NULL, NULL,
                     "the engine refused the request: %s", eerr.msg);
            gen_release(g);
            return -1;
        }
        pthread_mutex_lock(&g->mu);
        c->submitted = true;
        pthread_mutex_unlock(&g->mu);
    }
    *out = g;
    return 0;
}

int gen_take(generation *g, size_t i, gen_update *u)
{
    gen_choice *c = &g->c[i];
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    size_t had = u->n;
    for (size_t k = 0; k < c->q.n && rc == 0; k++)
        rc = push_token(u, c->q.tokens[k], c->q.logprobs[k]);
    if (rc != 0) {
        u->n = had; /* the queue keeps them all: the next take must not repeat some */
    } else {
        c->q.n = 0;
        u->done = c->q.done;
        u->finish = c->q.finish;
        memcpy(u->message, c->q.message, sizeof u->message);
        u->prompt_tokens = c->q.prompt_tokens;
        u->cached_tokens = c->q.cached_tokens;
        u->cached_by = c->q.cached_by;
        u->ttft_ms = c->q.ttft_ms;
        u->completion_tokens = c->q.completion_tokens;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void gen_wait(generation *g, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&g->mu);
    bool ready = false;
    while (!ready) {
        for (size_t i = 0; i < g->n && !ready; i++)
            ready = g->c[i].q.n > 0 || g->c[i].q.done;
        if (!ready && pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&g->mu);
}

void gen_cancel(generation *g, size_t i)
{
    gen_choice *c = &g->c[i];
    pthread_mutex_lock(&g->mu);
    bool go = c->submitted && !c->q.done && !c->cancelled;
    c->cancelled = true;
    uint64_t id = c->id;
    pthread_mutex_unlock(&g->mu);
    /* Outside the lock: the engine may deliver the final event from within. Should that
     * event slip in first, the id is stale; engine ids are never reused, so cancelling it
     * is a no-op. Our reference keeps g alive either way. */
    if (go)
        engine_cancel(g->e, id);
}

void gen_cancel_all(generation *g)
{
    for (size_t i = 0; i < g->n; i++)
        gen_cancel(g, i);
}

void gen_release(generation *g)
{
    gen_cancel_all(g);
    pthread_mutex_lock(&g->mu);
    unref_unlock(g);
}

void gen_update_free(gen_update *u)
{
    free(u->tokens);
    free(u->logprobs);
    u->tokens = NULL;
    u->logprobs = NULL;
    u->n = u->cap = 0;
}
