/* Chunks whose payload is kept outside their buffer (object.h, kvs_external_payload):
 * sealing, and the host copy that tiers keeping host bytes store. */
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "cache/kvs_admin.h"
#include "cache/object.h"

kvs_status kvs_chunk_seal(kvs_chunk *chunk, kvs_error *err)
{
    if (chunk->sealed)
        return KVS_OK;
    if (!chunk->external) {
        kvs_object_seal(chunk);
        return KVS_OK;
    }
    uint64_t sum;
    kvs_status st = chunk->external->ops->checksum(chunk, &sum, err);
    if (st == KVS_OK)
        kvs_object_seal_with_sum(chunk, sum);
    return st;
}

kvs_status kvs_object_host_copy(const kvs_chunk *chunk, kvs_chunk **out, kvs_error *err)
{
    *out = NULL;
    kvs_chunk *h = calloc(1, sizeof *h);
    int32_t *tokens = malloc((size_t)chunk->info.n_tokens * sizeof *tokens);
    uint8_t *buf = kvs_object_alloc_buffer(chunk->total_size);
    kvs_status st = KVS_OK;
    if (!h || !tokens || !buf)
        st = kvs_fail(err, KVS_ERR_NOMEM, "chunk %u: no host memory for a copy of %zu bytes",
                      chunk->info.chunk_index, chunk->total_size);
    else {
        memcpy(buf, chunk->buf, chunk->header_size);
        st = chunk->external->ops->copy_to_host(chunk, buf + chunk->header_size, err);
    }
    if (st != KVS_OK) {
        free(h);
        free(tokens);
        kvs_object_free_buffer(buf);
        return st;
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
