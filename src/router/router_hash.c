/* Hashing for routing decisions. */
#include "router/router_hash.h"

#include <xxhash.h>

uint64_t router_hash_bytes(uint64_t seed, const void *p, size_t n)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

uint64_t router_prefix_hash(const char *text, size_t len, size_t block, unsigned blocks)
{
    if (len < block)
        return router_hash_bytes(ROUTER_HASH_SEED, text, len);
    uint64_t h = ROUTER_HASH_SEED;
    for (unsigned i = 0; i < blocks && (size_t)(i + 1) * block <= len; i++)
        h = router_hash_bytes(h, text + (size_t)i * block, block);
    return h;
}

/* splitmix64's finaliser: the weight of a (key, backend) pair. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int router_rendezvous(uint64_t key, const uint64_t *ids, const bool *eligible, size_t n)
{
    int best = -1;
    uint64_t best_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (!eligible[i])
            continue;
        uint64_t w = mix(key ^ mix(ids[i]));
        if (best < 0 || w > best_w) {
            best = (int)i;
            best_w = w;
        }
    }
    return best;
}

void router_load_cap(const int *in_flight, bool *eligible, size_t n, double ratio)
{
    double sum = 0;
    size_t healthy = 0;
    for (size_t i = 0; i < n; i++)
        if (eligible[i]) {
            sum += in_flight[i];
            healthy++;
        }
    if (!healthy)
        return;
    double cap = ratio * (sum / (double)healthy) + 1;
    for (size_t i = 0; i < n; i++)
        if (eligible[i] && in_flight[i] > cap)
            eligible[i] = false;
}
