/* Backend kinds by name, backend_create (the CPU backend, or the CUDA one where this build
 * has it), and the GPU services where this build has them. */
#include "model/backend.h"

#include <string.h>

#include "model/backend_cpu.h"
#ifdef KVSPILL_HAVE_CUDA
#include "model/cuda/backend_cuda.h"
#include "model/cuda/cuda_device.h"
#endif

static const char *const kind_names[] = {
    [BACKEND_AUTO] = "auto",
    [BACKEND_CPU] = "cpu",
    [BACKEND_CUDA] = "cuda",
};

#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

int backend_kind_parse(const char *s, backend_kind *out)
{
    for (size_t k = 0; k < N_KINDS; k++)
        if (!strcmp(s, kind_names[k])) {
            *out = (backend_kind)k;
            return 0;
        }
    return -1;
}

const char *backend_kind_name(backend_kind k)
{
    return (size_t)k < N_KINDS ? kind_names[k] : "unknown";
}

/* The CUDA backend on device 0. */
static int create_cuda(const model *m, backend **out, model_error *err)
{
#ifdef KVSPILL_HAVE_CUDA
    return backend_cuda_create(m, 0, out, err);
#else
    return model_fail(err, "backend cuda: this build has no CUDA backend (nvcc was not found "
                           "when it was configured)");
#endif
}

int backend_create(backend_kind kind, const model *m, int n_threads, const kern_set *ks,
                   backend **out, model_error *err)
{
    *out = NULL;
    switch (kind) {
    case BACKEND_CPU:
        return backend_cpu_create(m, n_threads, ks, out, err);
    case BACKEND_CUDA:
        return create_cuda(m, out, err);
    case BACKEND_AUTO: {
        /* No CUDA in this build, or no device: the CPU, as device_name then says. */
        model_error cuda_err;
        if (create_cuda(m, out, &cuda_err) == 0)
            return 0;
        return backend_cpu_create(m, n_threads, ks, out, err);
    }
    }
    return model_fail(err, "backend: unknown kind %d", (int)kind);
}

const backend_gpu_services *backend_gpu(void)
{
#ifdef KVSPILL_HAVE_CUDA
    return &cuda_gpu_services;
#else
    return NULL;
#endif
}

int backend_gpu_device(const backend *b)
{
#ifdef KVSPILL_HAVE_CUDA
    if (b && b->kind == BACKEND_CUDA)
        return backend_cuda_device(b);
#endif
    return -1;
}
