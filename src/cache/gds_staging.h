/* The gds tier's GPU staging buffer: one device allocation of cufile_buffer_size bytes,
 * registered with cuFileBufRegister once, carved into 4096-aligned slots, one per payload
 * in flight or held by a device chunk. cuFile calls then name the registered base pointer
 * and the slot's offset (registration is per base pointer and expensive: never per I/O).
 *
 * Reference counted: the tier holds one, every slot holds one, so a device chunk released
 * after its cache closed still finds the buffer; the last reference deregisters and frees
 * it and ends this user's cuFile session. Thread-safe. */
#ifndef KVSPILL_CACHE_GDS_STAGING_H
#define KVSPILL_CACHE_GDS_STAGING_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cufile_api.h"
#include "kvspill.h"

typedef struct kvs_gds_staging kvs_gds_staging;

typedef struct kvs_gds_slot {
    size_t offset; /* from the registered base; a multiple of 4096 */
    size_t size;   /* bytes reserved, a multiple of 4096 */
} kvs_gds_slot;

/* Makes gpu's device current on the calling thread, once per thread and gpu. */
kvs_status kvs_gpu_bind_thread(const kvs_gpu_ops *gpu, kvs_error *err);

/* Starts a cuFile session (kvs_cufile_acquire), allocates size bytes with gpu->device_alloc
 * and registers them. One reference for the caller. */
kvs_status kvs_gds_staging_open(const kvs_gpu_ops *gpu, size_t size, kvs_gds_staging **out,
                                kvs_error *err);
kvs_gds_staging *kvs_gds_staging_ref(kvs_gds_staging *s);
void kvs_gds_staging_unref(kvs_gds_staging *s);

const kvs_gpu_ops *kvs_gds_staging_gpu(const kvs_gds_staging *s);
const kvs_cufile_api *kvs_gds_staging_api(const kvs_gds_staging *s);
/* The registered base pointer (device memory) and its size. */
void *kvs_gds_staging_base(const kvs_gds_staging *s);
size_t kvs_gds_staging_size(const kvs_gds_staging *s);

/* A slot for bytes (rounded up to 4096), first fit; false when no free range is that big
 * now. The slot holds a reference to s until freed. */
bool kvs_gds_slot_alloc(kvs_gds_staging *s, size_t bytes, kvs_gds_slot *slot);
void kvs_gds_slot_free(kvs_gds_staging *s, const kvs_gds_slot *slot);

#endif
