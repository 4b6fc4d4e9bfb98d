#include "cli/cli_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_engine_open(const char *cmd, const cli_engine_opts *o, cli_engine *e)
{
    memset(e, 0, sizeof *e);
    model_error err = {{0}};
    kv_dtype dt = KV_F16;
    kern_kind kk = KERN_AUTO;
    backend_kind device = BACKEND_AUTO;
    if (o->device && backend_kind_parse(o->device, &device) != 0) {
        fprintf(stderr, "kvspill %s: --device %s: expected auto, cpu or cuda\n", cmd, o->device);
        return -1;
    }
    if (o->kv && kv_dtype_parse(o->kv, &dt) != 0) {
        fprintf(stderr, "kvspill %s: --kv %s: expected f16 or f32\n", cmd, o->kv);
        return -1;
    }
    if (o->kernels && kern_kind_parse(o->kernels, &kk) != 0) {
        fprintf(stderr, "kvspill %s: --kernels %s: expected auto, scalar, avx2 or avx512\n", cmd,
                o->kernels);
        return -1;
    }
    const kern_set *ks = kern_get(kk);
    if (!ks) {
        fprintf(stderr, "kvspill %s: --kernels %s: not supported by this CPU\n", cmd, o->kernels);
        return -1;
    }
    if (gguf_open(o->model_path, &e->gf, &err) || model_load(e->gf, &e->m, &err) ||
        backend_create(device, e->m, o->threads > 0 ? o->threads : 2, ks, &e->be, &err) ||
        kv_contiguous_create(e->be, e->m->hp.n_layer, e->m->hp.n_head_kv, e->m->hp.head_dim,
                             1, o->max_pos ? o->max_pos : 1, dt, &e->kv, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        cli_engine_close(e);
        return -1;
    }
    return 0;
}

void cli_engine_close(cli_engine *e)
{
    kv_cache_destroy(e->kv); /* before the backend whose memory it is */
    backend_destroy(e->be);
    model_free(e->m);
    gguf_close(e->gf);
    memset(e, 0, sizeof *e);
}

int cli_eval(cli_engine *e, const fwd_batch *b, float *logits, model_error *err)
{
    return e->be->ops->eval(e->be, e->kv, b, logits, err);
}

int cli_read_ints(const char *cmd, const char *path, int32_t **out, uint32_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kvspill %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t cap = 256;
    int32_t *v = malloc(cap * sizeof *v);
    *n = 0;
    long x;
    int rc;
    while (v && (rc = fscanf(f, "%ld", &x)) == 1) {
        if (*n == cap) {
            int32_t *g = realloc(v, 2 * cap * sizeof *v);
            if (!g) {
                free(v);
                v = NULL;
                break;
            }
            v = g;
            cap *= 2;
        }
        v[(*n)++] = (int32_t)x;
    }
    int bad = v && !feof(f);
    fclose(f);
    if (!v || bad) {
        fprintf(stderr, "kvspill %s: %s: %s\n", cmd, path,
                v ? "not a list of integers" : "out of memory");
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}
