/* Error reporting for CUDA runtime and cuBLAS calls: every failing call becomes a
 * model_error naming the call and the cause, and the caller returns -1. */
#ifndef KVSPILL_MODEL_CUDA_CUDA_CHECK_H
#define KVSPILL_MODEL_CUDA_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "model/model_error.h"

/* "backend cuda: <call>: <cudaGetErrorString> (<cudaGetErrorName>)"; returns -1. */
int cuda_fail(model_error *err, const char *call, cudaError_t e);
/* "backend cuda: <call>: <cublasGetStatusString>"; returns -1. */
int cublas_fail(model_error *err, const char *call, cublasStatus_t s);

/* Kernel launches are checked with cudaGetLastError(), which also returns a failure of an
 * earlier runtime call on this thread (even one already reported, or a failed pinned
 * allocation elsewhere). Called before a batch of launches so that each check sees only
 * its own launch; sticky errors (a broken context) still surface at every call. */
void cuda_clear_stale_error(void);

/* Evaluates a CUDA runtime call (or a kernel launcher, which returns cudaGetLastError())
 * and returns cuda_fail(...) from the enclosing function when it fails. */
#define CUDA_TRY(err, call)                                                                \
    do {                                                                                   \
        cudaError_t cuda_try_e_ = (call);                                                  \
        if (cuda_try_e_ != cudaSuccess)                                                    \
            return cuda_fail((err), #call, cuda_try_e_);                                   \
    } while (0)

#define CUBLAS_TRY(err, call)                                                              \
    do {                                                                                   \
        cublasStatus_t cublas_try_s_ = (call);                                             \
        if (cublas_try_s_ != CUBLAS_STATUS_SUCCESS)                                        \
            return cublas_fail((err), #call, cublas_try_s_);                               \
    } while (0)

#endif
