/* Device chunks (device_chunk.h): the external payload operations of a slot of the GPU
 * staging buffer. */
#include "cache/device_chunk.h"

#include <stdlib.h>

#include "cache/error.h"

const kvs_device_payload *kvs_device_of(const kvs_chunk *chunk)
{
    return (const kvs_device_payload *)chunk->external;
}

uint8_t *kvs_device_payload_ptr(const kvs_chunk *chunk)
{
    const kvs_device_payload *d = kvs_device_of(chunk);
    return (uint8_t *)kvs_gds_staging_base(d->staging) + d->slot.offset;
}

static kvs_status device_checksum(const kvs_chunk *chunk, uint64_t *sum, kvs_error *err)
{
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(kvs_device_of(chunk)->staging);
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return st;
    int rc = gpu->xxh3_64(gpu->user, kvs_device_payload_ptr(chunk), chunk->info.payload_size,
                          sum);
    if (rc != 0)
        return kvs_fail(err, KVS_ERR_IO, "device chunk %u: checksum on the GPU: error %d",
                        chunk->info.chunk_index, rc);
    return KVS_OK;
}

static kvs_status device_copy_to_host(const kvs_chunk *chunk, uint8_t *dst, kvs_error *err)
{
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(kvs_device_of(chunk)->staging);
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return st;
    int rc = gpu->copy_to_host(gpu->user, dst, kvs_device_payload_ptr(chunk),
                               chunk->info.payload_size);
    if (rc != 0)
        return kvs_fail(err, KVS_ERR_IO, "chunk %u: copy_to_host of %llu bytes: error %d",
                        chunk->info.chunk_index,
                        (unsigned long long)chunk->info.payload_size, rc);
    return KVS_OK;
}

static void device_release(kvs_chunk *chunk)
{
    kvs_device_payload *d = (kvs_device_payload *)chunk->external;
    kvs_gds_slot_free(d->staging, &d->slot);
    free(d);
    chunk->external = NULL;
}

static const kvs_external_payload_ops device_ops = {
    .data = kvs_device_payload_ptr,
    .checksum = device_checksum,
    .copy_to_host = device_copy_to_host,
    .release = device_release,
};

kvs_status kvs_device_attach(kvs_chunk *chunk, kvs_gds_staging *staging,
                             const kvs_gds_slot *slot, kvs_error *err)
{
    kvs_device_payload *d = malloc(sizeof *d);
    if (!d) {
        kvs_gds_slot_free(staging, slot);
        return kvs_fail(err, KVS_ERR_NOMEM, "device chunk %u: out of memory",
                        chunk->info.chunk_index);
    }
    d->base.ops = &device_ops;
    d->staging = staging;
    d->slot = *slot;
    chunk->external = &d->base;
    return KVS_OK;
}

/* The padding after each segment is zeroed, so that a device chunk's object has the same
 * bytes as a host chunk's with the same KV. */
static kvs_status zero_padding(kvs_chunk *chunk, kvs_error *err)
{
    static const uint8_t zeros[4096];
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(kvs_device_of(chunk)->staging);
    size_t seg = kvs_segment_bytes(&chunk->info.layout, chunk->info.n_tokens);
    size_t stride = kvs_segment_stride(&chunk->info.layout, chunk->info.n_tokens);
    if (stride == seg)
        return KVS_OK;
    uint8_t *p = kvs_device_payload_ptr(chunk);
    for (size_t i = 0; i < 2 * (size_t)chunk->info.layout.n_layers; i++) {
        int rc = gpu->copy_to_device(gpu->user, p + i * stride + seg, zeros, stride - seg);
        if (rc != 0)
            return kvs_fail(err, KVS_ERR_IO, "device chunk %u: copy_to_device: error %d",
                            chunk->info.chunk_index, rc);
    }
    return KVS_OK;
}

kvs_status kvs_device_payload_new(kvs_gds_staging *staging, kvs_chunk *chunk, kvs_error *err)
{
    kvs_gds_slot slot;
    if (!kvs_gds_slot_alloc(staging, chunk->info.payload_size, &slot))
        return kvs_fail(err, KVS_ERR_FULL, "device chunk %u: no free %llu bytes in the GPU "
                        "staging buffer (%zu bytes) now", chunk->info.chunk_index,
                        (unsigned long long)chunk->info.payload_size,
                        kvs_gds_staging_size(staging));
    kvs_status st = kvs_device_attach(chunk, staging, &slot, err);
    if (st == KVS_OK)
        st = zero_padding(chunk, err);
    return st;
}
