/* Helpers of the GPU tests: skip without a device, make CUDA and CPU backends, KV caches
 * in a backend's memory, evaluate a run of tokens, generate small models. Header-only
 * (static functions), as model_fixture.h. */
#ifndef KVSPILL_TEST_GPU_FIXTURE_H
#define KVSPILL_TEST_GPU_FIXTURE_H

#include <cuda_runtime_api.h>

#include "model/backend.h"
#include "model/backend_cpu.h"
#include "model/cuda/backend_cuda.h"
#include "tools/model_gen.h"
#include "model_fixture.h"

/* Exits 77 (skipped) with a message when there is no CUDA device. */
static inline void gpu_require_device(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        fprintf(stderr, "no CUDA device (cudaGetDeviceCount: %s): GPU test skipped\n",
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        exit(TEST_SKIP_EXIT);
    }
}

static inline backend *gpu_cuda_backend(const model *m)
{
    backend *b;
    model_error err = {{0}};
    if (backend_cuda_create(m, 0, &b, &err))
        fail_msg("%s", err.msg);
    return b;
}

static inline backend *gpu_cpu_backend(const model *m)
{
    backend *b;
    model_error err = {{0}};
    if (backend_cpu_create(m, 2, NULL, &b, &err))
        fail_msg("%s", err.msg);
    return b;
}

/* n_seq sequences of up to max_pos positions in b's memory. */
static inline kv_cache *gpu_kv(backend *b, const model *m, uint32_t n_seq, uint32_t max_pos,
                               kv_dtype dtype)
{
    kv_cache *kv;
    model_error err = {{0}};
    const model_hparams *hp = &m->hp;
    if (kv_contiguous_create(b, hp->n_layer, hp->n_head_kv, hp->head_dim, n_seq, max_pos, dtype,
                             &kv, &err))
        fail_msg("%s", err.msg);
    return kv;
}

/* Evaluates tokens [0, n) of seq at positions pos0, pos0 + 1, ... in one batch through b;
 * the logits of out_rows (n_out of them) go to logits. */
static inline void gpu_eval(backend *b, kv_cache *kv, const int32_t *tokens, uint32_t n,
                            uint32_t pos0, uint32_t seq, const uint32_t *out_rows, uint32_t n_out,
                            float *logits)
{
    fwd_batch batch = fixture_batch(tokens, n, pos0, seq, out_rows, n_out);
    model_error err = {{0}};
    if (b->ops->eval(b, kv, &batch, logits, &err))
        fail_msg("%s", err.msg);
    fixture_batch_free(&batch);
}

/* A temporary directory for generated models: cmocka group setup and teardown. */
static char gpu_tmp_dir[4096];

static inline int gpu_tmp_setup(void **state)
{
    (void)state;
    test_mkdtemp(gpu_tmp_dir, "gpu-test");
    return 0;
}

static inline int gpu_tmp_teardown(void **state)
{
    (void)state;
    test_rmtree(gpu_tmp_dir);
    return 0;
}

/* A generated 2-layer model (model gen) of weight type `type` in gpu_tmp_dir/name.gguf,
 * loaded. */
static inline void gpu_gen_model(fixture_model *fm, const char *name, uint32_t type,
                                 model_gen_mix mix)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "%s.gguf", name);
    test_path(path, gpu_tmp_dir, rel);
    model_gen_params p = {.n_layer = 2, .n_embd = 256, .n_head = 4, .n_head_kv = 2,
                          .n_ff = 512, .n_ctx = 512, .rope_base = 10000.0f, .type = type,
                          .seed = 20261128, .vocab_from = NULL, .mix = mix};
    model_error err = {{0}};
    if (model_gen_write(&p, path, NULL, NULL, &err) || gguf_open(path, &fm->gf, &err) ||
        model_load(fm->gf, &fm->m, &err))
        fail_msg("%s", err.msg);
}

/* Deterministic token ids below n_vocab. */
static inline void gpu_tokens(int32_t *out, uint32_t n, uint32_t n_vocab, uint32_t seed)
{
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (uint32_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[i] = (int32_t)(x % n_vocab);
    }
}

#endif
