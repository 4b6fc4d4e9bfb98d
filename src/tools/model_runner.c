/* model_runner.h: the option strings parsed (a bad one reported with the command's name),
 * then the model layer's constructors in order, undone in reverse on a failure. */
#include "tools/model_runner.h"

#include <stdio.h>
#include <string.h>

int model_runner_open(const char *cmd, const model_runner_opts *o, model_runner *e)
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
    e->ks = ks;
    if (gguf_open(o->model_path, &e->gf, &err) || model_load(e->gf, &e->m, &err) ||
        backend_create(device, e->m, o->threads > 0 ? o->threads : 2, ks, &e->be, &err) ||
        kv_contiguous_create(e->be, e->m->hp.n_layer, e->m->hp.n_head_kv, e->m->hp.head_dim,
                             1, o->max_pos ? o->max_pos : 1, dt, &e->kv, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        model_runner_close(e);
        return -1;
    }
    return 0;
}

void model_runner_close(model_runner *e)
{
    kv_cache_destroy(e->kv); /* before the backend whose memory it is */
    backend_destroy(e->be);
    model_free(e->m);
    gguf_close(e->gf);
    memset(e, 0, sizeof *e);
}

int model_runner_eval(model_runner *e, const fwd_batch *b, float *logits, model_error *err)
{
    return e->be->ops->eval(e->be, e->kv, b, logits, err);
}
