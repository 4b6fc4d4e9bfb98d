#include "model/cuda/cuda_check.h"

int cuda_fail(model_error *err, const char *call, cudaError_t e)
{
    return model_fail(err, "backend cuda: %s: %s (%s)", call, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

int cublas_fail(model_error *err, const char *call, cublasStatus_t s)
{
    return model_fail(err, "backend cuda: %s: %s", call, cublasGetStatusString(s));
}

void cuda_clear_stale_error(void) { (void)cudaGetLastError(); }
