/* Device chunks: a chunk whose payload is a slot of the gds tier's GPU staging buffer, an
 * external payload (object.h) whose operations copy and checksum it with the cache's GPU
 * operations; chunk->buf holds the header only. The gds tier (tier_file.c, gds_io.c) makes
 * them, reads into them and writes from them with cuFile; tiers that keep host bytes get a
 * host copy instead (kvs_object_host_copy), so a device chunk never sits in a tier and its
 * slot goes back as soon as the caller releases the chunk. */
#ifndef KVSPILL_CACHE_DEVICE_CHUNK_H
#define KVSPILL_CACHE_DEVICE_CHUNK_H

#include "cache/gds_staging.h"
#include "cache/object.h"

typedef struct kvs_device_payload {
    kvs_external_payload base;
    kvs_gds_staging *staging; /* the slot's reference */
    kvs_gds_slot slot;
} kvs_device_payload;

/* Gives chunk (whose buf holds the header only) the payload in slot, taking over the
 * slot. */
kvs_status kvs_device_attach(kvs_chunk *chunk, kvs_gds_staging *staging,
                             const kvs_gds_slot *slot, kvs_error *err);
/* Gives chunk (whose buf holds the header only) a new slot of staging for its payload,
 * with the padding after each segment zeroed: how the gds tier makes a device chunk.
 * KVS_ERR_FULL when no slot that big is free now. */
kvs_status kvs_device_payload_new(kvs_gds_staging *staging, kvs_chunk *chunk, kvs_error *err);
/* The device payload of a device chunk. */
const kvs_device_payload *kvs_device_of(const kvs_chunk *chunk);
/* The device pointer of the payload. */
uint8_t *kvs_device_payload_ptr(const kvs_chunk *chunk);

#endif
