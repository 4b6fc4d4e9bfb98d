/* kvs_gpu_ops over the model's GPU services (backend.h), and the library's own device XXH3
 * for the checksum. */
#include "engine/gpu_ops.h"

#include <pthread.h>
#include <stdint.h>

/* One table per device, made once: the tables outlive every backend, as kvs_config.gpu
 * must outlive the cache. user is the device number. */
#define GPU_OPS_MAX_DEVICES 64

static int device_of(void *user) { return (int)(intptr_t)user; }

static void *gpu_host_alloc(void *user, size_t bytes)
{
    return backend_gpu()->host_alloc(device_of(user), bytes);
}

static void gpu_host_free(void *user, void *p) { backend_gpu()->host_free(device_of(user), p); }

static void *gpu_device_alloc(void *user, size_t bytes)
{
    return backend_gpu()->device_alloc(device_of(user), bytes);
}

static void gpu_device_free(void *user, void *p)
{
    backend_gpu()->device_free(device_of(user), p);
}

static int gpu_bind_thread(void *user) { return backend_gpu()->bind_thread(device_of(user)); }

static int gpu_copy_to_host(void *user, void *dst, const void *src_device, size_t n)
{
    return backend_gpu()->copy_to_host(device_of(user), dst, src_device, n);
}

static int gpu_copy_to_device(void *user, void *dst_device, const void *src, size_t n)
{
    return backend_gpu()->copy_to_device(device_of(user), dst_device, src, n);
}

/* The library's own kernel, on this table's device. */
static int gpu_xxh3_64(void *user, const void *src_device, size_t n, uint64_t *out)
{
    int rc = backend_gpu()->bind_thread(device_of(user));
    return rc ? rc : (int)kvs_xxh3_64_device(src_device, n, out, NULL);
}

static kvs_gpu_ops tables[GPU_OPS_MAX_DEVICES];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void fill_tables(void)
{
    for (intptr_t d = 0; d < GPU_OPS_MAX_DEVICES; d++)
        tables[d] = (kvs_gpu_ops){(void *)d,         gpu_host_alloc,    gpu_host_free,
                                  gpu_device_alloc,  gpu_device_free,   gpu_bind_thread,
                                  gpu_copy_to_host,  gpu_copy_to_device, gpu_xxh3_64};
}

static const kvs_gpu_ops *table_of(int device)
{
    if (device < 0 || device >= GPU_OPS_MAX_DEVICES)
        return NULL;
    pthread_once(&tables_once, fill_tables);
    return &tables[device];
}

const kvs_gpu_ops *engine_gpu_ops(backend *b)
{
    int device = backend_gpu_device(b);
    return device < 0 ? NULL : table_of(device);
}

const kvs_gpu_ops *engine_gpu_ops_device(int device, engine_error *err)
{
    const backend_gpu_services *gpu = backend_gpu();
    if (!gpu) {
        engine_fail(err, "GPU %d: this build has no CUDA backend (nvcc was not found when it "
                         "was configured)", device);
        return NULL;
    }
    int rc = gpu->bind_thread(device);
    if (rc != 0) {
        engine_fail(err, "GPU %d: cudaSetDevice: %s", device, gpu->error_string(rc));
        return NULL;
    }
    const kvs_gpu_ops *ops = table_of(device);
    if (!ops)
        engine_fail(err, "GPU %d: device numbers above %d are not supported", device,
                   GPU_OPS_MAX_DEVICES - 1);
    return ops;
}
