/* Device chunks (device_chunk.h) and their public functions (kvspill.h). */
#include "cache/device_chunk.h"

#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/object.h"
#include "cache/tier_file.h"

bool kvs_chunk_on_device(const kvs_chunk *chunk)
{
    return chunk && chunk->device != NULL;
}

uint8_t *kvs_device_payload_ptr(const kvs_chunk *chunk)
{
    return (uint8_t *)kvs_gds_staging_base(chunk->device->staging) + chunk->device->slot.offset;
}

kvs_status kvs_device_attach(kvs_chunk *chunk, kvs_gds_staging *staging,
                             const kvs_gds_slot *slot, kvs_error *err)
{
    struct kvs_device_payload *d = malloc(sizeof *d);
    if (!d) {
        kvs_gds_slot_free(staging, slot);
        return kvs_fail(err, KVS_ERR_NOMEM, "device chunk %u: out of memory",
                        chunk->info.chunk_index);
    }
    d->staging = staging;
    d->slot = *slot;
    chunk->device = d;
    return KVS_OK;
}

void kvs_device_detach(kvs_chunk *chunk)
{
    if (!chunk->device)
        return;
    kvs_gds_slot_free(chunk->device->staging, &chunk->device->slot);
    free(chunk->device);
    chunk->device = NULL;
}

/* The padding after each segment is zeroed, so that a device chunk's object has the same
 * bytes as a host chunk's with the same KV. */
static kvs_status zero_padding(kvs_chunk *chunk, kvs_error *err)
{
    static const uint8_t zeros[4096];
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(chunk->device->staging);
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

kvs_status kvs_chunk_new_device(kvs_cache *cache, const kvs_key *ns, const kvs_key *parent,
                                const kvs_key *key, uint32_t chunk_index,
                                const int32_t *tokens, uint32_t n_tokens,
                                const kvs_layout *layout, kvs_chunk **out, kvs_error *err)
{
    if (!out)
        return kvs_fail(err, KVS_ERR_INVALID, "device chunk: NULL output pointer");
    *out = NULL;
    if (!cache)
        return kvs_fail(err, KVS_ERR_INVALID, "device chunk: NULL cache");
    if (!cache->cfg.gpu)
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: no GPUDirect path: the "
                        "cache has no GPU operations (kvs_config.gpu is NULL)", chunk_index);
    if (!cache->gds)
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: no GPUDirect path: no "
                        "gds_path is configured", chunk_index);
    kvs_gds_staging *staging = kvs_tier_file_staging(cache->gds);
    if (!staging) {
        kvs_tier_stats s;
        cache->gds->methods->stats(cache->gds, &s);
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: the gds tier uses %s",
                        chunk_index, s.io_path);
    }
    kvs_chunk *c;
    kvs_status st = kvs_object_new_chunk(ns, parent, key, chunk_index, tokens, n_tokens, layout,
                                         false, &c, err);
    if (st != KVS_OK)
        return st;
    kvs_gds_slot slot;
    if (!kvs_gds_slot_alloc(staging, c->info.payload_size, &slot)) {
        kvs_fail(err, KVS_ERR_FULL, "device chunk %u: no free %llu bytes in the GPU staging "
                 "buffer (%zu bytes) now", chunk_index,
                 (unsigned long long)c->info.payload_size, kvs_gds_staging_size(staging));
        kvs_chunk_release(c);
        return KVS_ERR_FULL;
    }
    if ((st = kvs_device_attach(c, staging, &slot, err)) != KVS_OK ||
        (st = zero_padding(c, err)) != KVS_OK) {
        kvs_chunk_release(c);
        return st;
    }
    *out = c;
    return KVS_OK;
}

kvs_status kvs_device_seal(kvs_chunk *chunk, kvs_error *err)
{
    if (chunk->sealed)
        return KVS_OK;
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(chunk->device->staging);
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return st;
    uint64_t sum;
    int rc = gpu->xxh3_64(gpu->user, kvs_device_payload_ptr(chunk), chunk->info.payload_size,
                          &sum);
    if (rc != 0)
        return kvs_fail(err, KVS_ERR_IO, "device chunk %u: checksum on the GPU: error %d",
                        chunk->info.chunk_index, rc);
    kvs_object_seal_with_sum(chunk, sum);
    return KVS_OK;
}

kvs_status kvs_chunk_seal(kvs_chunk *chunk, kvs_error *err)
{
    if (chunk->device)
        return kvs_device_seal(chunk, err);
    kvs_object_seal(chunk);
    return KVS_OK;
}

kvs_status kvs_device_host_copy(const kvs_chunk *chunk, kvs_chunk **out, kvs_error *err)
{
    *out = NULL;
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(chunk->device->staging);
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return st;
    kvs_chunk *h = calloc(1, sizeof *h);
    int32_t *tokens = malloc((size_t)chunk->info.n_tokens * sizeof *tokens);
    uint8_t *buf = kvs_object_alloc_buffer(chunk->total_size);
    int rc = -1;
    if (h && tokens && buf) {
        memcpy(buf, chunk->buf, chunk->header_size);
        rc = gpu->copy_to_host(gpu->user, buf + chunk->header_size,
                               kvs_device_payload_ptr(chunk), chunk->info.payload_size);
    }
    if (rc != 0) {
        free(h);
        free(tokens);
        kvs_object_free_buffer(buf);
        if (h && tokens && buf)
            return kvs_fail(err, KVS_ERR_IO, "chunk %u: copy_to_host of %llu bytes: error %d",
                            chunk->info.chunk_index,
                            (unsigned long long)chunk->info.payload_size, rc);
        return kvs_fail(err, KVS_ERR_NOMEM, "chunk %u: no host memory for a copy of %zu bytes",
                        chunk->info.chunk_index, chunk->total_size);
    }
    memcpy(tokens, chunk->tokens, (size_t)chunk->info.n_tokens * sizeof *tokens);
    atomic_init(&h->refs, 1);
    h->info = chunk->info;
    h->header_size = chunk->header_size;
    h->total_size = chunk->total_size;
    h->buf = buf;
    h->tokens = tokens;
    h->sealed = true;
    *out = h;
    return KVS_OK;
}
