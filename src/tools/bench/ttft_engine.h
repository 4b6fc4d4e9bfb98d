/* What `kvspill bench ttft` needs from the engine: opening one in a given cache
 * configuration, and running a request to completion while timing its first tokens. */
#ifndef KVSPILL_TOOLS_BENCH_TTFT_ENGINE_H
#define KVSPILL_TOOLS_BENCH_TTFT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

typedef struct ttft_setup {
    const char *model;
    backend_kind device;
    int threads;
    uint32_t max_len;
    bool apc;          /* in-memory prefix caching */
    const char *dir;   /* file tier directory; NULL: no offload connector */
    bool gds;          /* dir is the gds tier (gds_path: cuFile into GPU memory where it
                          works) instead of local_disk */
    bool mem_tier;     /* LMCache local_cpu tier in front of the file tier */
    uint32_t chunk;    /* LMCache chunk size */
    kv_codec codec;    /* LMCache kv_codec of the chunks */
} ttft_setup;

/* Prints the reason to stderr and returns -1 on failure. */
int ttft_engine_open(const ttft_setup *s, engine **out);

typedef struct ttft_sample {
    double ttft_s;     /* submit to first token */
    double step_s;     /* first to second token: one decode step (0 with max_tokens 1) */
    uint32_t cached;   /* prompt tokens not computed */
    int32_t *tokens;   /* generated tokens (malloc'd, n_tokens of them), or NULL */
    uint32_t n_tokens;
} ttft_sample;

/* Greedy; blocks until the request is done. Returns -1 if it failed. */
int ttft_run(engine *e, const int32_t *prompt, size_t n, uint32_t max_tokens, ttft_sample *out);

/* Bytes the offload tiers have read so far (all tiers). */
uint64_t ttft_bytes_read(engine *e);
/* Waits (bounded) until the engine's queued stores have reached the tiers. */
void ttft_wait_stores(engine *e);


#endif
