#include "cache/keymap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cache/error.h"

#define INITIAL_BUCKETS 256u

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Keys are SHA-256 outputs; mixing 8 bytes of each with a secret seed is enough. */
static uint64_t hash_of(const kvs_keymap *map, const kvs_key *ns, const kvs_key *key)
{
    uint64_t h = load64(key->b) ^ map->seed;
    h ^= load64(ns->b) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

kvs_status kvs_keymap_init(kvs_keymap *map, kvs_error *err)
{
    memset(map, 0, sizeof *map);
    map->buckets = calloc(INITIAL_BUCKETS, sizeof *map->buckets);
    if (!map->buckets)
        return kvs_fail(err, KVS_ERR_NOMEM, "key map: cannot allocate %u buckets",
                        INITIAL_BUCKETS);
    map->n_buckets = INITIAL_BUCKETS;
    if (getrandom(&map->seed, sizeof map->seed, GRND_NONBLOCK) != (ssize_t)sizeof map->seed)
        map->seed = (uint64_t)(uintptr_t)map ^ 0x6a09e667f3bcc908ull;
    return KVS_OK;
}

void kvs_keymap_destroy(kvs_keymap *map)
{
    free(map->buckets);
    map->buckets = NULL;
    map->n_buckets = map->count = 0;
}

kvs_keymap_node *kvs_keymap_find(const kvs_keymap *map, const kvs_key *ns, const kvs_key *key)
{
    uint64_t h = hash_of(map, ns, key);
    for (kvs_keymap_node *n = map->buckets[h & (map->n_buckets - 1)]; n; n = n->next)
        if (n->hash == h && kvs_key_equal(&n->key, key) && kvs_key_equal(&n->ns, ns))
            return n;
    return NULL;
}

static void grow(kvs_keymap *map)
{
    size_t n = map->n_buckets * 2;
    kvs_keymap_node **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < map->n_buckets; i++) {
        kvs_keymap_node *node = map->buckets[i];
        while (node) {
            kvs_keymap_node *next = node->next;
            node->next = b[node->hash & (n - 1)];
            b[node->hash & (n - 1)] = node;
            node = next;
        }
    }
    free(map->buckets);
    map->buckets = b;
    map->n_buckets = n;
}

void kvs_keymap_insert(kvs_keymap *map, kvs_keymap_node *node)
{
    if (map->count >= map->n_buckets)
        grow(map);
    node->hash = hash_of(map, &node->ns, &node->key);
    kvs_keymap_node **slot = &map->buckets[node->hash & (map->n_buckets - 1)];
    node->next = *slot;
    *slot = node;
    map->count++;
}

void kvs_keymap_remove(kvs_keymap *map, kvs_keymap_node *node)
{
    kvs_keymap_node **p = &map->buckets[node->hash & (map->n_buckets - 1)];
    while (*p && *p != node)
        p = &(*p)->next;
    if (*p) {
        *p = node->next;
        map->count--;
    }
}
