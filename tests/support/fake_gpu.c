/* Fake GPU operations and access to the fake libcufile's record (fake_gpu.h). */
#include "fake_gpu.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "testutil.h"

#define MAX_DEVICE_ALLOCS 64

static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const uint8_t *p;
    size_t n;
} device_allocs[MAX_DEVICE_ALLOCS];

static void *host_alloc(void *user, size_t bytes)
{
    atomic_fetch_add(&((fake_gpu *)user)->host_allocs, 1);
    return malloc(bytes);
}

static void host_free(void *user, void *p)
{
    atomic_fetch_add(&((fake_gpu *)user)->host_frees, 1);
    free(p);
}

/* 64 KiB-aligned, as cudaMalloc's allocations are in practice. */
static void *device_alloc(void *user, size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 65536, bytes) != 0)
        return NULL;
    atomic_fetch_add(&((fake_gpu *)user)->device_allocs, 1);
    pthread_mutex_lock(&device_lock);
    for (int i = 0; i < MAX_DEVICE_ALLOCS; i++)
        if (!device_allocs[i].p) {
            device_allocs[i].p = p;
            device_allocs[i].n = bytes;
            break;
        }
    pthread_mutex_unlock(&device_lock);
    return p;
}

static void device_free(void *user, void *p)
{
    atomic_fetch_add(&((fake_gpu *)user)->device_frees, 1);
    pthread_mutex_lock(&device_lock);
    for (int i = 0; i < MAX_DEVICE_ALLOCS; i++)
        if (device_allocs[i].p == p)
            device_allocs[i].p = NULL;
    pthread_mutex_unlock(&device_lock);
    free(p);
}

static int bind_thread(void *user)
{
    atomic_fetch_add(&((fake_gpu *)user)->binds, 1);
    return 0;
}

static int copy_to_host(void *user, void *dst, const void *src_device, size_t n)
{
    atomic_fetch_add(&((fake_gpu *)user)->copies_to_host, 1);
    memcpy(dst, src_device, n);
    return 0;
}

static int copy_to_device(void *user, void *dst_device, const void *src, size_t n)
{
    atomic_fetch_add(&((fake_gpu *)user)->copies_to_device, 1);
    memcpy(dst_device, src, n);
    return 0;
}

static int xxh3_64(void *user, const void *src_device, size_t n, uint64_t *out)
{
    atomic_fetch_add(&((fake_gpu *)user)->checksums, 1);
    *out = XXH3_64bits(src_device, n);
    return 0;
}

void fake_gpu_init(fake_gpu *g)
{
    memset(g, 0, sizeof *g);
    g->ops = (kvs_gpu_ops){.user = g, .host_alloc = host_alloc, .host_free = host_free,
                           .device_alloc = device_alloc, .device_free = device_free,
                           .bind_thread = bind_thread, .copy_to_host = copy_to_host,
                           .copy_to_device = copy_to_device, .xxh3_64 = xxh3_64};
}

int fake_gpu_is_device(const void *p)
{
    const uint8_t *q = p;
    int yes = 0;
    pthread_mutex_lock(&device_lock);
    for (int i = 0; i < MAX_DEVICE_ALLOCS; i++)
        if (device_allocs[i].p && q >= device_allocs[i].p &&
            q < device_allocs[i].p + device_allocs[i].n)
            yes = 1;
    pthread_mutex_unlock(&device_lock);
    return yes;
}

fake_cufile_record fake_cufile(int reset)
{
    static void *lib; /* kept open: the record lives as long as the test */
    static fake_cufile_record_fn get;
    if (!get) {
        const char *path = getenv("KVSPILL_CUFILE_LIB");
        if (!path || !(lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            fail_msg("cannot load the fake libcufile (KVSPILL_CUFILE_LIB=%s)",
                     path ? path : "(unset)");
        void *sym = dlsym(lib, "fake_cufile_record_get");
        if (!sym)
            fail_msg("the fake libcufile has no fake_cufile_record_get");
        memcpy(&get, &sym, sizeof sym);
    }
    fake_cufile_record r;
    get(&r, reset);
    return r;
}
