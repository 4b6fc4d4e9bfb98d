/* An intrusive hash map keyed by (namespace, key), for the mem tier's index and the
 * single-flight table. Not locked: the owner holds its own lock around every call. */
#ifndef KVSPILL_CACHE_KEYMAP_H
#define KVSPILL_CACHE_KEYMAP_H

#include "kvspill.h"

typedef struct kvs_keymap_node {
    kvs_key ns;
    kvs_key key;
    uint64_t hash;
    struct kvs_keymap_node *next;
} kvs_keymap_node;

typedef struct kvs_keymap {
    kvs_keymap_node **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
    uint64_t seed;    /* per map, so crafted keys cannot aim at one bucket */
} kvs_keymap;

kvs_status kvs_keymap_init(kvs_keymap *map, kvs_error *err);
/* Frees the bucket array only; the nodes belong to the caller. */
void kvs_keymap_destroy(kvs_keymap *map);
kvs_keymap_node *kvs_keymap_find(const kvs_keymap *map, const kvs_key *ns, const kvs_key *key);
/* Inserts node (its ns and key set; not already present). Grows the table when it can;
 * a failed growth leaves longer chains, never an error. */
void kvs_keymap_insert(kvs_keymap *map, kvs_keymap_node *node);
void kvs_keymap_remove(kvs_keymap *map, kvs_keymap_node *node);

#endif
