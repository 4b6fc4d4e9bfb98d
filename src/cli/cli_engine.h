/* What the engine commands (model logits, generate, bench engine) share: opening a model,
 * building its forward context and KV cache from common options, reading id lists. */
#ifndef KVSPILL_CLI_CLI_ENGINE_H
#define KVSPILL_CLI_CLI_ENGINE_H

#include <stdint.h>

#include "model/forward.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/model.h"

typedef struct cli_engine {
    gguf_file *gf;
    model *m;
    fwd_ctx *fc;
    kv_cache *kv;
} cli_engine;

/* Options as given on the command line (strings may be NULL for defaults). */
typedef struct cli_engine_opts {
    const char *model_path;
    const char *kv;      /* "f16" (default) or "f32" */
    const char *kernels; /* "auto" (default), "scalar", "avx2" */
    int threads;         /* <= 0: 2 */
    uint32_t max_pos;    /* KV capacity for the one sequence */
} cli_engine_opts;

/* Prints the reason to stderr, prefixed with cmd, and returns -1 on failure. */
int cli_engine_open(const char *cmd, const cli_engine_opts *o, cli_engine *e);
void cli_engine_close(cli_engine *e);

/* Whitespace-separated integers of a file into a malloc'd array; -1 (reported) on failure. */
int cli_read_ints(const char *cmd, const char *path, int32_t **out, uint32_t *n);

#endif
