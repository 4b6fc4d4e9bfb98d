/* Device chunks: a chunk whose payload is a slot of the gds tier's GPU staging buffer
 * (chunk->device set, chunk->buf the header only). The gds tier reads into them and writes
 * from them with cuFile; tiers that keep host bytes (mem, redis, a POSIX file tier) get a
 * host copy instead (kvs_device_host_copy), so a device chunk never sits in a tier and its
 * slot goes back as soon as the caller releases the chunk. */
#ifndef KVSPILL_CACHE_DEVICE_CHUNK_H
#define KVSPILL_CACHE_DEVICE_CHUNK_H

#include "cache/gds_staging.h"
#include "kvspill.h"

struct kvs_device_payload {
    kvs_gds_staging *staging; /* the slot's reference */
    kvs_gds_slot slot;
};

/* Gives chunk (whose buf holds the header only) the payload in slot, taking over the
 * slot. */
kvs_status kvs_device_attach(kvs_chunk *chunk, kvs_gds_staging *staging,
                             const kvs_gds_slot *slot, kvs_error *err);
/* Frees the slot of a device chunk; nothing for a host chunk. For chunk_free. */
void kvs_device_detach(kvs_chunk *chunk);
/* The device pointer of the payload. */
uint8_t *kvs_device_payload_ptr(const kvs_chunk *chunk);

/* Seals a device chunk: the header with the payload's XXH3-64 computed on the GPU. */
kvs_status kvs_device_seal(kvs_chunk *chunk, kvs_error *err);
/* Seals any chunk: kvs_object_seal for a host chunk, kvs_device_seal for a device chunk. */
kvs_status kvs_chunk_seal(kvs_chunk *chunk, kvs_error *err);

/* A sealed host chunk with the same object bytes as the sealed device chunk (payload
 * copied with gpu->copy_to_host into a page-locked buffer). */
kvs_status kvs_device_host_copy(const kvs_chunk *chunk, kvs_chunk **out, kvs_error *err);

#endif
