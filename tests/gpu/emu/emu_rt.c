/* The CUDA runtime and cuBLAS calls the backend makes, on the CPU: device memory is host
 * memory from malloc (recorded, so that copies check which side each pointer is on), every
 * operation runs at once (streams and events are tokens). */
#include <cublas_v2.h>
#include <stdint.h>
float kern_f16_to_f32(uint16_t h);
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n;
} alloc_rec;
static alloc_rec recs[1 << 16];
static int n_recs;
/* The engine's I/O threads allocate and copy too. */
static pthread_mutex_t recs_mu = PTHREAD_MUTEX_INITIALIZER;

static void rec_add(void *p, size_t n)
{
    pthread_mutex_lock(&recs_mu);
    for (int i = 0; i < n_recs; i++)
        if (!recs[i].p) {
            recs[i] = (alloc_rec){p, n};
            pthread_mutex_unlock(&recs_mu);
            return;
        }
    if (n_recs == (int)(sizeof recs / sizeof recs[0]))
        abort();
    recs[n_recs++] = (alloc_rec){p, n};
    pthread_mutex_unlock(&recs_mu);
}

/* The allocation holding p (its copy in *out), or -1. */
static int rec_find_copy(const void *p, alloc_rec *out)
{
    int found = -1;
    pthread_mutex_lock(&recs_mu);
    for (int i = 0; i < n_recs && found < 0; i++)
        if (recs[i].p && (const char *)p >= recs[i].p && (const char *)p <= recs[i].p + recs[i].n) {
            found = i;
            if (out)
                *out = recs[i];
        }
    pthread_mutex_unlock(&recs_mu);
    return found;
}

static int rec_find(const void *p)
{
    return rec_find_copy(p, NULL);
}

/* n bytes at p are inside one device allocation (dev) or outside every one (host). */
static void check_side(const void *p, size_t n, int dev, const char *what)
{
    if (n == 0)
        return;
    alloc_rec r;
    int i = rec_find_copy(p, &r);
    if (dev && (i < 0 || (const char *)p + n > r.p + r.n)) {
        fprintf(stderr, "emu: %s: %p+%zu is not inside device memory\n", what, p, n);
        abort();
    }
    if (!dev && i >= 0) {
        fprintf(stderr, "emu: %s: %p is device memory where host memory is expected\n", what, p);
        abort();
    }
}

cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n ? n : 1);
    memset(*p, 0xcd, n); /* not zeroed, as on a device */
    rec_add(*p, n);
    return cudaSuccess;
}

cudaError_t cudaMallocAsync(void **p, size_t n, cudaStream_t s)
{
    (void)s;
    return cudaMalloc(p, n);
}

cudaError_t cudaFree(void *p)
{
    if (!p)
        return cudaSuccess;
    pthread_mutex_lock(&recs_mu);
    int i = 0;
    while (i < n_recs && recs[i].p != p)
        i++;
    if (i == n_recs) {
        fprintf(stderr, "emu: cudaFree of %p, not a device allocation\n", p);
        abort();
    }
    recs[i].p = NULL;
    pthread_mutex_unlock(&recs_mu);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaFreeAsync(void *p, cudaStream_t s)
{
    (void)s;
    return cudaFree(p);
}
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned int f)
{
    (void)f;
    *p = malloc(n);
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}

static void copy(void *dst, const void *src, size_t n, enum cudaMemcpyKind k, const char *what)
{
    int dd = k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice;
    int sd = k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice;
    if (k == cudaMemcpyDefault) {
        dd = rec_find(dst) >= 0;
        sd = rec_find(src) >= 0;
    }
    check_side(dst, n, dd, what);
    check_side(src, n, sd, what);
    memmove(dst, src, n);
}

cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k)
{
    copy(d, s, n, k, "cudaMemcpy");
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k,
                            cudaStream_t st)
{
    (void)st;
    copy(d, s, n, k, "cudaMemcpyAsync");
    return cudaSuccess;
}

cudaError_t cudaMemcpy2DAsync(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h,
                              enum cudaMemcpyKind k, cudaStream_t st)
{
    (void)st;
    if (w > dp || w > sp)
        return cudaErrorInvalidPitchValue;
    for (size_t r = 0; r < h; r++)
        copy((char *)d + r * dp, (const char *)s + r * sp, w, k, "cudaMemcpy2DAsync");
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    check_side(p, n, 1, "cudaMemset");
    memset(p, v, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
    (void)s;
    return cudaMemset(p, v, n);
}

static int tokens;
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int f)
{
    (void)f;
    *s = (cudaStream_t)(intptr_t)(0x1000 + ++tokens);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    (void)s;
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int f)
{
    (void)s;
    (void)e;
    (void)f;
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int f)
{
    (void)f;
    *e = (cudaEvent_t)(intptr_t)(0x100000 + ++tokens);
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    (void)e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    (void)e;
    (void)s;
    return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e)
{
    (void)e;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    (void)e;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void)
{
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d)
{
    return d == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d)
{
    (void)d;
    memset(p, 0, sizeof *p);
    strcpy(p->name, "CPU emulation");
    p->major = 9;
    p->totalGlobalMem = (size_t)64 << 30;
    return cudaSuccess;
}
/* The emulated device: 64 GiB, 40 of them free. */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    *total_bytes = (size_t)64 << 30;
    *free_bytes = (size_t)40 << 30;
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void)
{
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e)
{
    return e ? "emu error" : "no error";
}
const char *cudaGetErrorName(cudaError_t e)
{
    return e ? "cudaErrorEmu" : "cudaSuccess";
}

/* ---- cuBLAS: column-major, as its documentation defines it ---- */
cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
    *h = (cublasHandle_t)(intptr_t)0x77;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
    (void)h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s)
{
    (void)h;
    (void)s;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s)
{
    return s ? "emu cublas error" : "success";
}

static float elem(const void *p, cudaDataType t, size_t i)
{
    if (t == CUDA_R_32F)
        return ((const float *)p)[i];
    return kern_f16_to_f32(((const uint16_t *)p)[i]);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType at,
                            int lda, const void *B, cudaDataType bt, int ldb, const void *beta,
                            void *C, cudaDataType ct, int ldc, cublasComputeType_t ctype,
                            cublasGemmAlgo_t algo)
{
    (void)h;
    (void)algo;
    if (ct != CUDA_R_32F || at != bt || (at != CUDA_R_32F && at != CUDA_R_16F))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (at == CUDA_R_32F && ctype != CUBLAS_COMPUTE_32F_PEDANTIC && ctype != CUBLAS_COMPUTE_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (at == CUDA_R_16F && ctype != CUBLAS_COMPUTE_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    /* op(A) is m x k, op(B) k x n; A is lda-strided columns of (ta ? k : m) rows. */
    int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
    int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
    if (lda < a_rows || ldb < b_rows || ldc < m || m < 0 || n < 0 || k < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    size_t esz = at == CUDA_R_32F ? 4 : 2;
    check_side(A, ((size_t)(a_cols - 1) * lda + a_rows) * esz, 1, "cublasGemmEx A");
    check_side(B, ((size_t)(b_cols - 1) * ldb + b_rows) * esz, 1, "cublasGemmEx B");
    check_side(C, ((size_t)(n - 1) * ldc + m) * 4, 1, "cublasGemmEx C");
    float al = *(const float *)alpha, be = *(const float *)beta;
    const char *order = getenv("EMU_GEMM_ORDER_BY_N");
    int backwards = order && *order == '1';
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            /* cuBLAS picks its kernel, and with it the summation order, by shape:
             * EMU_GEMM_ORDER_BY_N=1 sums backwards when n is even, so that results which
             * must not depend on the batch size are seen to depend on it. */
            float s = 0.0f;
            for (int q = 0; q < k; q++) {
                int l = backwards && n % 2 == 0 ? k - 1 - q : q;
                float a = ta == CUBLAS_OP_N ? elem(A, at, i + (size_t)l * lda)
                                            : elem(A, at, l + (size_t)i * lda);
                float b = tb == CUBLAS_OP_N ? elem(B, bt, l + (size_t)j * ldb)
                                            : elem(B, bt, j + (size_t)l * ldb);
                s += a * b;
            }
            float *c = (float *)C + i + (size_t)j * ldc;
            *c = al * s + (be != 0.0f ? be * *c : 0.0f);
        }
    return CUBLAS_STATUS_SUCCESS;
}
