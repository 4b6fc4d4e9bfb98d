/* The registered GPU staging buffer and its slot allocator (gds_staging.h). Slots in use
 * are kept in an array sorted by offset; a new slot goes in the first gap that fits. A
 * few hundred slots at most are in use at once, so a scan is cheap, and a failed growth
 * of the array is only a slot refused, never a slot lost. */
#include "cache/gds_staging.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cufile_lib.h"
#include "cache/error.h"

#define SLOT_ALIGN 4096u

struct kvs_gds_staging {
    atomic_uint refs;
    const kvs_gpu_ops *gpu;
    const kvs_cufile_api *api;
    void *base;
    size_t size;
    pthread_mutex_t lock;
    kvs_gds_slot *used; /* sorted by offset */
    size_t n_used, cap_used;
};

static _Thread_local const kvs_gpu_ops *bound_gpu;

kvs_status kvs_gpu_bind_thread(const kvs_gpu_ops *gpu, kvs_error *err)
{
    if (bound_gpu == gpu)
        return KVS_OK;
    int rc = gpu->bind_thread(gpu->user);
    if (rc != 0)
        return kvs_fail(err, KVS_ERR_IO, "bind the GPU to an I/O thread: error %d", rc);
    bound_gpu = gpu;
    return KVS_OK;
}

kvs_status kvs_gds_staging_open(const kvs_gpu_ops *gpu, size_t size, kvs_gds_staging **out,
                                kvs_error *err)
{
    *out = NULL;
    if (size < SLOT_ALIGN)
        return kvs_fail(err, KVS_ERR_INVALID, "cufile_buffer_size %zu is smaller than one "
                        "4096-byte block", size);
    size = size / SLOT_ALIGN * SLOT_ALIGN;
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return st;
    kvs_gds_staging *s = calloc(1, sizeof *s);
    if (!s)
        return kvs_fail(err, KVS_ERR_NOMEM, "GPU staging buffer: out of memory");
    if ((st = kvs_cufile_acquire(&s->api, err)) != KVS_OK) {
        free(s);
        return st;
    }
    s->gpu = gpu;
    s->size = size;
    if (!(s->base = gpu->device_alloc(gpu->user, size))) {
        st = kvs_fail(err, KVS_ERR_NOMEM, "GPU staging buffer: device_alloc of %zu bytes "
                      "failed", size);
    } else {
        CUfileError_t e = s->api->buf_register(s->base, size, 0);
        if (e.err != CU_FILE_SUCCESS) {
            st = kvs_cufile_fail(err, KVS_ERR_IO, s->api, e, "cuFileBufRegister");
            gpu->device_free(gpu->user, s->base);
        }
    }
    if (st != KVS_OK) {
        kvs_cufile_release();
        free(s);
        return st;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return KVS_OK;
}

kvs_gds_staging *kvs_gds_staging_ref(kvs_gds_staging *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void kvs_gds_staging_unref(kvs_gds_staging *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* The last reference may go on any thread (a device chunk released after its cache
     * closed, on a thread that never touched the GPU), and cuFile calls on GPU buffers need
     * the device's context current. Nothing useful can be done about a failed binding or
     * deregistration at the end: the driver session closes right after and drops every
     * registration anyway. */
    kvs_gpu_bind_thread(s->gpu, NULL);
    s->api->buf_deregister(s->base);
    s->gpu->device_free(s->gpu->user, s->base);
    kvs_cufile_release();
    pthread_mutex_destroy(&s->lock);
    free(s->used);
    free(s);
}

const kvs_gpu_ops *kvs_gds_staging_gpu(const kvs_gds_staging *s)
{
    return s->gpu;
}

const kvs_cufile_api *kvs_gds_staging_api(const kvs_gds_staging *s)
{
    return s->api;
}

void *kvs_gds_staging_base(const kvs_gds_staging *s)
{
    return s->base;
}

size_t kvs_gds_staging_size(const kvs_gds_staging *s)
{
    return s->size;
}

/* Caller holds the lock. Room for one more slot in the array. */
static bool reserve_entry(kvs_gds_staging *s)
{
    if (s->n_used < s->cap_used)
        return true;
    size_t cap = s->cap_used ? 2 * s->cap_used : 16;
    kvs_gds_slot *more = realloc(s->used, cap * sizeof *more);
    if (!more)
        return false;
    s->used = more;
    s->cap_used = cap;
    return true;
}

bool kvs_gds_slot_alloc(kvs_gds_staging *s, size_t bytes, kvs_gds_slot *slot)
{
    if (bytes == 0 || bytes > s->size)
        return false;
    size_t need = (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    size_t at = 0, pos = 0;
    for (; pos < s->n_used; pos++) {
        if (s->used[pos].offset - at >= need)
            break;
        at = s->used[pos].offset + s->used[pos].size;
    }
    if ((pos < s->n_used || s->size - at >= need) && reserve_entry(s)) {
        memmove(&s->used[pos + 1], &s->used[pos], (s->n_used - pos) * sizeof *s->used);
        s->used[pos] = (kvs_gds_slot){.offset = at, .size = need};
        s->n_used++;
        *slot = s->used[pos];
        ok = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (ok)
        kvs_gds_staging_ref(s);
    return ok;
}

void kvs_gds_slot_free(kvs_gds_staging *s, const kvs_gds_slot *slot)
{
    pthread_mutex_lock(&s->lock);
    size_t lo = 0, hi = s->n_used;
    while (lo < hi) { /* the slot with this offset */
        size_t mid = lo + (hi - lo) / 2;
        if (s->used[mid].offset < slot->offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_used && s->used[lo].offset == slot->offset) {
        memmove(&s->used[lo], &s->used[lo + 1], (s->n_used - lo - 1) * sizeof *s->used);
        s->n_used--;
    }
    pthread_mutex_unlock(&s->lock);
    kvs_gds_staging_unref(s);
}
