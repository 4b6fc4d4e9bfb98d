/* What the engine commands (model logits, generate, bench engine) share: opening a model,
 * building its backend and a KV cache in the backend's memory from common options,
 * evaluating a batch, reading id lists. */
#ifndef KVSPILL_CLI_CLI_ENGINE_H
#define KVSPILL_CLI_CLI_ENGINE_H

#include <stdint.h>

#include "model/backend.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/model.h"

typedef struct cli_engine {
    gguf_file *gf;
    model *m;
    backend *be;
    kv_cache *kv;        /* in be's memory */
} cli_engine;

/* Options as given on the command line (strings may be NULL for defaults). */
typedef struct cli_engine_opts {
    const char *model_path;
    const char *device;  /* "auto" (default), "cpu", "cuda" */
    const char *kv;      /* "f16" (default) or "f32" */
    const char *kernels; /* "auto" (default), "scalar", "avx2" */
    int threads;         /* CPU threads; <= 0: 2 */
    uint32_t max_pos;    /* KV capacity for the one sequence */
} cli_engine_opts;

/* Prints the reason to stderr, prefixed with cmd, and returns -1 on failure. */
int cli_engine_open(const char *cmd, const cli_engine_opts *o, cli_engine *e);
void cli_engine_close(cli_engine *e);

/* fwd_eval's contract, on e's backend and KV cache. */
int cli_eval(cli_engine *e, const fwd_batch *b, float *logits, model_error *err) MODEL_MUST_CHECK;

/* Whitespace-separated integers of a file into a malloc'd array; -1 (reported) on failure. */
int cli_read_ints(const char *cmd, const char *path, int32_t **out, uint32_t *n);

#endif
