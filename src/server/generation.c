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
    uint32_t top_k;   /* the request's top_logprobs */
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

static int push_token(gen_tokens *l, uint32_t k, int32_t token, float logprob,
                      const engine_alt *top, uint32_t n_top)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *t = realloc(l->tokens, cap * sizeof *t);
        if (!t)
            return -1;
        l->tokens = t;
        float *lp = realloc(l->logprobs, cap * sizeof *lp);
        if (!lp)
            return -1;
        l->logprobs = lp;
        if (k) {
            engine_alt *a = realloc(l->top, cap * k * sizeof *a);
            if (!a)
                return -1;
            l->top = a;
        }
        l->cap = cap;
    }
    for (uint32_t j = 0; j < k; j++)
        l->top[l->n * k + j] = j < n_top ? top[j] : (engine_alt){-1, 0.0f};
    l->tokens[l->n] = token;
    l->logprobs[l->n++] = logprob;
    return 0;
}

/* Appends all of from to to; on failure to keeps its length. */
static int push_all(gen_tokens *to, const gen_tokens *from, uint32_t k)
{
    size_t had = to->n;
    for (size_t i = 0; i < from->n; i++)
        if (push_token(to, k, from->tokens[i], from->logprobs[i], k ? &from->top[i * k] : NULL,
                       k)) {
            to->n = had;
            return -1;
        }
    return 0;
}

static void gen_tokens_free(gen_tokens *l)
{
    free(l->tokens);
    free(l->logprobs);
    free(l->top);
    memset(l, 0, sizeof *l);
}

static void on_event(void *user, const engine_event *ev)
{
    gen_choice *c = user;
    generation *g = c->g;
    pthread_mutex_lock(&g->mu);
    gen_tokens *to = ev->has_token ? &c->q.gen : ev->is_prompt ? &c->q.prompt : NULL;
    if (to && !c->oom && push_token(to, g->top_k, ev->token, ev->logprob, ev->top, ev->n_top))
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
    g->top_k = req->top_logprobs;
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
    pthread_mutex_lock(&g->mu);
    size_t had_prompt = u->prompt.n;
    u->top_k = g->top_k;
    int rc = push_all(&u->prompt, &c->q.prompt, g->top_k);
    if (rc == 0 && (rc = push_all(&u->gen, &c->q.gen, g->top_k)) != 0)
        u->prompt.n = had_prompt; /* the queues keep them all: the next take repeats none */
    if (rc == 0) {
        c->q.prompt.n = c->q.gen.n = 0;
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
            ready = g->c[i].q.gen.n > 0 || g->c[i].q.prompt.n > 0 || g->c[i].q.done;
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
    gen_tokens_free(&u->gen);
    gen_tokens_free(&u->prompt);
}
