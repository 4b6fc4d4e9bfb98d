/* kvs_chunk_new_device: a chunk whose payload lives in the device memory of the first tier
 * that has device payloads (tier.h, kvs_tier_device_methods). */
#include "cache/cache_internal.h"
#include "cache/error.h"
#include "cache/object.h"

static kvs_tier *device_tier(const kvs_cache *cache)
{
    for (uint32_t t = 0; t < cache->n_tiers; t++)
        if (cache->tiers[t]->device)
            return cache->tiers[t];
    return NULL;
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
    kvs_tier *tier = device_tier(cache);
    if (!tier)
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: no GPUDirect path: no "
                        "gds_path is configured", chunk_index);
    kvs_chunk *c;
    kvs_status st = kvs_object_new_chunk(ns, parent, key, chunk_index, tokens, n_tokens, layout,
                                         false, &c, err);
    if (st != KVS_OK)
        return st;
    if ((st = tier->device->new_payload(tier, c, err)) != KVS_OK) {
        kvs_chunk_release(c);
        return st;
    }
    *out = c;
    return KVS_OK;
}
