/* Loading libcufile and sharing its driver session (cufile_lib.h). */
#include "cache/cufile_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned lib_users;
static void *lib_handle;
static kvs_cufile_api lib_api;

/* CUfileOpError - 5000 -> the meaning from cufile.h, for a library without
 * cufileop_status_error. */
static const char *const op_errors[] = {
    [1] = "driver not initialized (nvidia-fs not loaded)",
    [2] = "invalid driver properties",
    [3] = "driver limit not supported",
    [4] = "driver version mismatch",
    [5] = "driver version read error",
    [6] = "driver closing",
    [7] = "platform not supported",
    [8] = "file system not supported and compat mode off",
    [9] = "device not supported",
    [10] = "nvidia-fs driver ioctl error",
    [11] = "CUDA driver error",
    [12] = "invalid CUDA device pointer",
    [13] = "invalid CUDA memory type",
    [14] = "CUDA pointer range error",
    [15] = "CUDA context mismatch",
    [16] = "invalid mapping size",
    [17] = "invalid mapping range",
    [18] = "invalid file type",
    [19] = "invalid file open flags",
    [20] = "O_DIRECT not set",
    [22] = "invalid value",
    [23] = "memory already registered",
    [24] = "memory not registered",
    [25] = "permission denied (/dev/nvidia-fs*)",
    [26] = "driver already open",
    [27] = "file handle not registered",
    [28] = "file handle already registered",
    [29] = "GPU device not found",
    [30] = "internal error (see cufile.log; overlayfs, tmpfs or no /run/udev)",
    [31] = "failed to obtain a new file descriptor",
    [33] = "nvidia-fs setup error",
    [34] = "I/O disabled by configuration",
    [35] = "batch submit failed",
    [36] = "GPU memory pinning failed",
    [37] = "batch full",
    [38] = "asynchronous I/O not supported",
    [39] = "internal batch setup error",
    [40] = "internal batch submit error",
    [41] = "internal batch status error",
    [42] = "internal batch cancel error",
    [43] = "out of memory",
    [44] = "I/O error",
    [45] = "internal buffer registration error",
    [46] = "hash operation error",
    [47] = "invalid context",
    [48] = "nvidia-fs internal driver error",
    [49] = "batch needs compat mode, which is off",
};

const char *kvs_cufile_error_text(const kvs_cufile_api *api, int code)
{
    if (api && api->op_status_error) {
        const char *s = api->op_status_error(code);
        if (s && *s)
            return s;
    }
    if (code == CU_FILE_SUCCESS)
        return "success";
    int n = code - CUFILEOP_BASE_ERR;
    if (n > 0 && n < (int)(sizeof op_errors / sizeof op_errors[0]) && op_errors[n])
        return op_errors[n];
    return "unknown cuFile error";
}

kvs_status kvs_cufile_fail(kvs_error *err, kvs_status code, const kvs_cufile_api *api,
                           CUfileError_t e, const char *what)
{
    if (e.err == CU_FILE_CUDA_DRIVER_ERROR)
        return kvs_fail(err, code, "%s: error %d (%s, CUresult %d)", what, e.err,
                        kvs_cufile_error_text(api, e.err), e.cu_err);
    return kvs_fail(err, code, "%s: error %d (%s)", what, e.err,
                    kvs_cufile_error_text(api, e.err));
}

kvs_status kvs_cufile_fail_io(kvs_error *err, const kvs_cufile_api *api, ssize_t ret,
                              int errnum, const char *what)
{
    if (ret == -1)
        return kvs_fail_errno(err, errnum, "%s", what);
    return kvs_cufile_fail(err, KVS_ERR_IO, api, (CUfileError_t){.err = (int)-ret}, what);
}

/* libcufile is never unloaded once loaded: it crashes when it is (cuDF loads it with
 * RTLD_NODELETE for that, rapidsai/cudf#9872), so the dlclose of the last release only drops
 * the reference and a later acquire finds the same library. */
#define OPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)

/* dlopen of the override, else of the soname, else of the development symlink. */
static void *open_library(kvs_error *err)
{
    const char *override = getenv(KVS_CUFILE_LIB_ENV);
    if (override && *override) {
        void *h = dlopen(override, OPEN_FLAGS);
        if (!h)
            kvs_fail(err, KVS_ERR_UNSUPPORTED, "dlopen (%s): %s", KVS_CUFILE_LIB_ENV,
                     dlerror()); /* dlerror names the file */
        return h;
    }
    void *h = dlopen("libcufile.so.0", OPEN_FLAGS);
    if (h)
        return h;
    char first[256];
    snprintf(first, sizeof first, "%s", dlerror());
    h = dlopen("libcufile.so", OPEN_FLAGS);
    if (!h)
        kvs_fail(err, KVS_ERR_UNSUPPORTED, "dlopen: %s", first); /* names libcufile.so.0 */
    return h;
}

/* Looks a symbol up into a function pointer field; memcpy is how POSIX lets a dlsym
 * result become a function pointer without type punning. */
static bool load(void *h, const char *name, void *field)
{
    void *p = dlsym(h, name);
    memcpy(field, &p, sizeof p);
    return p != NULL;
}

#define LOAD(field, name) load(h, name, &api->field)

static kvs_status load_symbols(void *h, kvs_cufile_api *api, kvs_error *err)
{
    memset(api, 0, sizeof *api);
    if (!LOAD(driver_close, "cuFileDriverClose_v2") && !LOAD(driver_close, "cuFileDriverClose"))
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "libcufile: no cuFileDriverClose_v2 or "
                        "cuFileDriverClose");
    const char *missing = !LOAD(driver_open, "cuFileDriverOpen") ? "cuFileDriverOpen"
                          : !LOAD(handle_register, "cuFileHandleRegister") ? "cuFileHandleRegister"
                          : !LOAD(handle_deregister, "cuFileHandleDeregister") ? "cuFileHandleDeregister"
                          : !LOAD(buf_register, "cuFileBufRegister") ? "cuFileBufRegister"
                          : !LOAD(buf_deregister, "cuFileBufDeregister") ? "cuFileBufDeregister"
                          : !LOAD(read, "cuFileRead") ? "cuFileRead"
                          : !LOAD(write, "cuFileWrite") ? "cuFileWrite"
                          : NULL;
    if (missing)
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "libcufile: no symbol %s", missing);
    LOAD(driver_get_properties, "cuFileDriverGetProperties");
    LOAD(op_status_error, "cufileop_status_error");
    return KVS_OK;
}

kvs_status kvs_cufile_acquire(const kvs_cufile_api **api, kvs_error *err)
{
    *api = NULL;
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&lib_lock);
    if (lib_users == 0) {
        void *h = open_library(err);
        if (!h)
            st = KVS_ERR_UNSUPPORTED;
        else if ((st = load_symbols(h, &lib_api, err)) == KVS_OK) {
            CUfileError_t e = lib_api.driver_open();
            if (e.err != CU_FILE_SUCCESS)
                st = kvs_cufile_fail(err, KVS_ERR_UNSUPPORTED, &lib_api, e, "cuFileDriverOpen");
        }
        if (st == KVS_OK)
            lib_handle = h;
        else if (h)
            dlclose(h);
    }
    if (st == KVS_OK) {
        lib_users++;
        *api = &lib_api;
    }
    pthread_mutex_unlock(&lib_lock);
    return st;
}

void kvs_cufile_release(void)
{
    pthread_mutex_lock(&lib_lock);
    if (lib_users > 0 && --lib_users == 0) {
        lib_api.driver_close();
        dlclose(lib_handle);
        lib_handle = NULL;
        memset(&lib_api, 0, sizeof lib_api);
    }
    pthread_mutex_unlock(&lib_lock);
}
