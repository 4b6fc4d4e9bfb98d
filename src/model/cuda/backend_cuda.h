/* The CUDA backend (backend.h, docs/cuda.md): cuBLAS products and our own kernels on one
 * device, the KV pool in device memory, KV transfers on a copy stream ordered against the
 * forward pass with events. Built only where nvcc was found (KVSPILL_HAVE_CUDA). */
#ifndef KVSPILL_MODEL_CUDA_BACKEND_CUDA_H
#define KVSPILL_MODEL_CUDA_BACKEND_CUDA_H

#include "model/backend.h"

/* A backend on CUDA device `device` for model m (which must outlive it): uploads the
 * weights once. Fails with a message naming the call and the cause, e.g. "backend cuda: no
 * CUDA device (cudaGetDeviceCount: no CUDA-capable device is detected)". */
int backend_cuda_create(const model *m, int device, backend **out,
                        model_error *err) MODEL_MUST_CHECK;

/* The CUDA device of a BACKEND_CUDA backend. */
int backend_cuda_device(const backend *b);

#endif
