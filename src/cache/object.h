/* The chunk object (ARCHITECTURE.md §4): the bytes every tier stores, in memory exactly as
 * on disk.
 *
 *   [header, padded to a multiple of 4096][payload: per layer, K segment then V segment,
 *    each starting at a 4096-byte boundary]
 *
 * Header (little-endian): magic "KVSPILL\0", format version, header size, key, parent key,
 * namespace, chunk index, token count, layout, payload size, payload checksum (XXH3-64),
 * creation time, writer id, the chunk's token ids, and an XXH3-64 of the header itself
 * (computed with that field zeroed). A reader trusts nothing it has not checked. */
#ifndef KVSPILL_CACHE_OBJECT_H
#define KVSPILL_CACHE_OBJECT_H

#include <stdatomic.h>

#include "kvspill.h"

#define KVS_OBJECT_MAGIC "KVSPILL" /* 8 bytes with the NUL */
#define KVS_OBJECT_VERSION 1u
#define KVS_OBJECT_ALIGN 4096u
/* A chunk holds at most this many tokens; bounds the header a reader will accept. */
#define KVS_OBJECT_MAX_TOKENS KVS_CHUNK_MAX_TOKENS
/* Bounds a reader accepts for the layout before it allocates anything. */
#define KVS_OBJECT_MAX_LAYERS 4096u
#define KVS_OBJECT_MAX_HEADS 4096u
#define KVS_OBJECT_MAX_HEAD_DIM 16384u

/* A payload kept outside the chunk's buffer (in device memory: device_chunk.h). The object
 * format reaches its bytes only through these operations; an implementation embeds a
 * kvs_external_payload as its first member. */
typedef struct kvs_external_payload_ops {
    /* The payload's address (it need not be readable by the host). */
    uint8_t *(*data)(const kvs_chunk *chunk);
    /* XXH3-64 (seed 0) of the payload's info.payload_size bytes. */
    kvs_status (*checksum)(const kvs_chunk *chunk, uint64_t *sum, kvs_error *err);
    /* Copies the payload's info.payload_size bytes to host memory at dst. */
    kvs_status (*copy_to_host)(const kvs_chunk *chunk, uint8_t *dst, kvs_error *err);
    /* Frees the payload, with the chunk. */
    void (*release)(kvs_chunk *chunk);
} kvs_external_payload_ops;

typedef struct kvs_external_payload {
    const kvs_external_payload_ops *ops;
} kvs_external_payload;

struct kvs_chunk {
    atomic_uint refs;
    kvs_chunk_info info;
    size_t header_size;   /* multiple of KVS_OBJECT_ALIGN */
    size_t total_size;    /* header_size + info.payload_size */
    uint8_t *buf;         /* KVS_OBJECT_ALIGN-aligned, total_size bytes: the object */
    int32_t *tokens;      /* info.n_tokens token ids (owned copy) */
    bool sealed;          /* header bytes in buf are written and checksummed */
    /* NULL for a chunk whose payload follows the header in buf. Set for a payload kept
     * elsewhere (in device memory): buf then holds the header only. */
    kvs_external_payload *external;
};

/* Bytes of the header for a chunk of n_tokens, padded to KVS_OBJECT_ALIGN. */
size_t kvs_object_header_size(uint32_t n_tokens);

/* Writes the header into chunk->buf (payload checksum included). Called once, by put;
 * idempotent. After sealing, the payload must not change. A chunk with an external
 * payload is left alone: kvs_chunk_seal seals it. */
void kvs_object_seal(kvs_chunk *chunk);
/* The same with the payload's XXH3-64 computed by the caller. */
void kvs_object_seal_with_sum(kvs_chunk *chunk, uint64_t payload_sum);
/* kvs_chunk_seal (kvs_admin.h) seals any chunk: kvs_object_seal, or for an external
 * payload the header with the checksum its operations compute (object_external.c). */

/* A sealed chunk with the payload in buf and the same object bytes as the sealed chunk
 * with an external payload (copied with its copy_to_host). */
kvs_status kvs_object_host_copy(const kvs_chunk *chunk, kvs_chunk **out, kvs_error *err);

/* kvs_chunk_new, or with with_payload false a chunk whose buf holds the header only (for
 * an external payload, before it is attached). */
kvs_status kvs_object_new_chunk(const kvs_key *ns, const kvs_key *parent, const kvs_key *key,
                                uint32_t chunk_index, const int32_t *tokens, uint32_t n_tokens,
                                const kvs_layout *layout, bool with_payload, kvs_chunk **out,
                                kvs_error *err);

/* Parses and checks a header from the first len bytes of an object: magic, version,
 * header size, header checksum, layout bounds, payload size against the layout.
 * Fills info and, when tokens is not NULL, copies the token ids (caller provides room for
 * KVS_OBJECT_MAX_TOKENS or info->n_tokens after a first call with tokens = NULL).
 * Never reads past len. */
kvs_status kvs_object_parse_header(const uint8_t *buf, size_t len, kvs_chunk_info *info,
                                   size_t *header_size, int32_t *tokens, kvs_error *err);

/* Builds a chunk from the complete bytes of an object (taking ownership of buf, which must
 * come from kvs_object_alloc_buffer) and verifies everything: header, payload size against
 * len, payload checksum, and — when given — namespace, key and expected tokens.
 * On any mismatch returns KVS_ERR_CORRUPT with the reason, and frees buf. */
kvs_status kvs_object_from_bytes(uint8_t *buf, size_t len, const kvs_key *ns,
                                 const kvs_key *key, const int32_t *tokens,
                                 uint32_t n_tokens, kvs_chunk **out, kvs_error *err);

/* kvs_object_from_bytes for a reader that has the header bytes in host memory and the
 * payload elsewhere: buf holds header_len bytes (the whole header) of an object of
 * object_len bytes. Verifies everything but the payload checksum, which *payload_sum gets
 * for the caller to compare; the chunk's buf is the header alone. */
kvs_status kvs_object_from_header(uint8_t *buf, size_t header_len, size_t object_len,
                                  const kvs_key *ns, const kvs_key *key, const int32_t *tokens,
                                  uint32_t n_tokens, uint64_t *payload_sum, kvs_chunk **out,
                                  kvs_error *err);
/* The header size an object's first len bytes claim (checked: magic, and no larger than the
 * largest header), so that a reader knows how much to read; 0 when they claim nothing
 * sensible. */
size_t kvs_object_peek_header_size(const uint8_t *buf, size_t len);

/* A KVS_OBJECT_ALIGN-aligned buffer of size bytes (rounded up to the alignment), for
 * O_DIRECT reads; free with kvs_object_free_buffer. */
uint8_t *kvs_object_alloc_buffer(size_t size);
void kvs_object_free_buffer(uint8_t *buf);

/* While a cache with GPU operations is open, object buffers are page-locked memory from the
 * gpu->host_alloc of a cache that is open (each buffer goes back to the operations it came
 * from). When the last cache with some operations closes, the idle buffers from them are
 * freed, new buffers come from another open cache's operations (or the heap), and a buffer
 * from them released later goes straight back to them: nothing of theirs is left for
 * after the caller may have dropped them. Called by kvs_cache_open and kvs_cache_close
 * with the cache's operations. */
void kvs_object_pin_buffers(const kvs_gpu_ops *gpu);
void kvs_object_unpin_buffers(const kvs_gpu_ops *gpu);

#endif
