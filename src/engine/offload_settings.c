/* The connector's settings under LMCache's names, read from the same sources as the
 * library's tiers (LMCACHE_CONFIG_FILE or LMCACHE_*) by the library's own reader: the
 * library keeps what it uses (kvs_config), the engine what the connector uses. */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

static const char *const connector_keys[] = {
    "chunk_size",
    "save_unfull_chunk",
    "save_decode_cache",
    "kv_codec",
    NULL,
};

static kvs_status set_connector(void *target, const char *key, const char *value,
                                kvs_error *err)
{
    engine_config *cfg = target;
    if (!strcmp(key, "chunk_size"))
        return kvs_setting_uint(key, value, 1, KVS_CHUNK_MAX_TOKENS, &cfg->chunk_size, err);
    if (!strcmp(key, "save_unfull_chunk"))
        return kvs_setting_bool(key, value, &cfg->save_unfull_chunk, err);
    if (!strcmp(key, "kv_codec")) {
        if (kv_codec_parse(value, &cfg->kv_codec) == 0)
            return KVS_OK;
        if (err) {
            err->code = KVS_ERR_INVALID;
            snprintf(err->msg, sizeof err->msg, "kv_codec: '%.64s' is not none, int8 or fp8",
                     value);
        }
        return KVS_ERR_INVALID;
    }
    return kvs_setting_bool(key, value, &cfg->save_decode_cache, err); /* the last key */
}

int engine_offload_settings_from_env(engine_config *cfg, engine_error *err)
{
    kvs_settings settings = {.keys = connector_keys, .set = set_connector, .target = cfg};
    kvs_error kerr;
    if (kvs_settings_from_env(&settings, &kerr) != KVS_OK)
        return engine_fail(err, "%s", kerr.msg);
    return 0;
}
