/* One client request in the engine: n engine requests (one per choice) whose events the
 * engine thread queues here and the HTTP thread takes. The generation lives until both
 * sides are done with it: the HTTP side calls gen_release, and every submitted engine
 * request has delivered its final event. A registry counts live generations so shutdown
 * can wait for them and ask them to cancel. */
#ifndef KVSPILL_SERVER_GENERATION_H
#define KVSPILL_SERVER_GENERATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "server/api_error.h"

typedef struct gen_registry {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    size_t live;
    atomic_bool cancel_all;   /* shutdown: every waiter cancels its generation */
} gen_registry;

int gen_registry_init(gen_registry *r);
void gen_registry_destroy(gen_registry *r);
size_t gen_registry_live(gen_registry *r);
/* Waits until no generation is live or timeout_ms passes; returns the number still live. */
size_t gen_registry_wait_idle(gen_registry *r, int timeout_ms);

typedef struct generation generation;

/* Tokens with their logprobs and, top_k per token, the most likely alternatives at each
 * position (engine_alt; token -1 past a position's last). */
typedef struct gen_tokens {
    int32_t *tokens;
    float *logprobs;
    engine_alt *top;
    size_t n, cap;
} gen_tokens;

/* What the HTTP side has taken of one choice so far (tokens appended by gen_take). */
typedef struct gen_update {
    gen_tokens gen;           /* generated tokens */
    gen_tokens prompt;        /* engine_request.prompt_logprobs: prompt tokens 1, 2, ... */
    uint32_t top_k;           /* alternatives per token in gen.top and prompt.top */
    bool done;
    engine_finish finish;
    char message[256];
    uint32_t prompt_tokens, cached_tokens, completion_tokens;
    engine_cached_by cached_by;
    double ttft_ms;     /* from gen_start to the first token; 0 before it */
} gen_update;

/* Submits n_choices requests; seeds differ per choice (seed + i) so n > 1 samples differ. */
int gen_start(engine *e, gen_registry *reg, const engine_request *req, size_t n_choices,
              generation **out, api_error *err);
/* Appends choice i's new tokens to u and refreshes its state. -1 when out of memory (u
 * keeps what it had; the tokens stay queued for the next take). */
int gen_take(generation *g, size_t i, gen_update *u);
/* Waits up to timeout_ms for an event on any choice. */
void gen_wait(generation *g, int timeout_ms);
void gen_cancel(generation *g, size_t i);
void gen_cancel_all(generation *g);
/* The HTTP side is done: unfinished choices are cancelled; freed once they report. */
void gen_release(generation *g);
void gen_update_free(gen_update *u);

#endif
