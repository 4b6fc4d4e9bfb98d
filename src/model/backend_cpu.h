/* The CPU backend (backend.h): the forward pass of forward.c on its thread pool, the KV
 * pool in resident host memory (kv_pool_mem.h), KV transfers as memcpy done when queued. */
#ifndef KVSPILL_MODEL_BACKEND_CPU_H
#define KVSPILL_MODEL_BACKEND_CPU_H

#include "model/backend.h"

/* n_threads forward-pass threads; ks NULL: kern_get(KERN_AUTO). m must outlive it. */
int backend_cpu_create(const model *m, int n_threads, const kern_set *ks, backend **out,
                       model_error *err) MODEL_MUST_CHECK;

#endif
