/* A model run by hand, one sequence at a time, as `kvspill generate`, `model logits` and
 * `bench engine` run it: the model opened, its backend built and a KV cache in the
 * backend's memory, from the options of the command line; a batch evaluated on them. */
#ifndef KVSPILL_TOOLS_MODEL_RUNNER_H
#define KVSPILL_TOOLS_MODEL_RUNNER_H

#include <stdint.h>

#include "model/backend.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/model.h"

typedef struct model_runner {
    gguf_file *gf;
    model *m;
    backend *be;
    kv_cache *kv;        /* in be's memory */
    const kern_set *ks;  /* the CPU kernels chosen (--kernels) */
} model_runner;

/* Options as given on the command line (strings may be NULL for defaults). */
typedef struct model_runner_opts {
    const char *model_path;
    const char *device;  /* "auto" (default), "cpu", "cuda" */
    const char *kv;      /* "f16" (default) or "f32" */
    const char *kernels; /* "auto" (default), "scalar", "avx2" */
    int threads;         /* CPU threads; <= 0: 2 */
    uint32_t max_pos;    /* KV capacity for the one sequence */
} model_runner_opts;

/* Prints the reason to stderr, prefixed with cmd, and returns -1 on failure. */
int model_runner_open(const char *cmd, const model_runner_opts *o, model_runner *e);
void model_runner_close(model_runner *e);

/* fwd_eval's contract, on e's backend and KV cache. */
int model_runner_eval(model_runner *e, const fwd_batch *b, float *logits,
                      model_error *err) MODEL_MUST_CHECK;

#endif
