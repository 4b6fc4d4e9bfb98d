/* How much of a prompt each offload tier holds, asked by a router choosing a replica
 * (kvaware routing, docs/router.md). A lookup only: no load, no state of the connector
 * touched, so any thread may ask while the scheduler runs. */
#include <stdlib.h>
#include <string.h>

#include "engine/connector_internal.h"

int connector_lookup_prefix(connector *c, const kvs_key *ns, const int32_t *tokens,
                            uint32_t n_tokens, uint32_t tier_tokens[KVS_MAX_TIERS],
                            engine_error *err)
{
    memset(tier_tokens, 0, KVS_MAX_TIERS * sizeof *tier_tokens);
    uint32_t n_full = n_tokens / c->chunk;
    if (n_full == 0)
        return 0;
    kvs_key *keys = malloc(n_full * sizeof *keys);
    uint8_t *tier_of = malloc(n_full);
    if (!keys || !tier_of) {
        free(keys);
        free(tier_of);
        return engine_fail(err, "lookup: out of memory for %u chunk keys", n_full);
    }
    for (uint32_t i = 0; i < n_full; i++)
        kvs_key_next(i ? &keys[i - 1] : ns, tokens + (size_t)i * c->chunk, c->chunk, &keys[i]);
    size_t n_hit = 0;
    kvs_error kerr;
    kvs_status st = kvs_lookup_tiers(c->cache, ns, keys, n_full, tier_of, &n_hit, &kerr);
    for (size_t i = 0; st == KVS_OK && i < n_hit; i++)
        if (tier_of[i] < KVS_MAX_TIERS)
            tier_tokens[tier_of[i]] += c->chunk;
    free(keys);
    free(tier_of);
    return st == KVS_OK ? 0 : engine_fail(err, "lookup: %s", kerr.msg);
}
