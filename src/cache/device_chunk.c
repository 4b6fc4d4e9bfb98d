/* Device chunks: chunks whose payload lives in the gds tier's GPU staging buffer. */
#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/object.h"

bool kvs_chunk_on_device(const kvs_chunk *chunk)
{
    return chunk && chunk->device != NULL;
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
    kvs_tier_stats s;
    cache->gds->methods->stats(cache->gds, &s);
    (void)ns, (void)parent, (void)key, (void)tokens, (void)n_tokens, (void)layout;
    return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: no GPUDirect path: the gds "
                    "tier moves bytes with %s", chunk_index, s.io_path);
}
