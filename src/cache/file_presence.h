/* What a file tier process remembers about which objects exist, so that lookups on a warm
 * process cost no metadata operations: a bounded, direct-mapped table of keys recently
 * seen present (put, hit, stat) or absent (a short-lived negative entry). It is only an
 * accelerator: another node may evict or add an object at any time, so a present entry
 * expires after present_ttl and an absent one after absent_ttl, and a wrong answer costs
 * one failed get (the loader truncates there) or one chunk recomputed. */
#ifndef KVSPILL_CACHE_FILE_PRESENCE_H
#define KVSPILL_CACHE_FILE_PRESENCE_H

#include <pthread.h>
#include <stdint.h>

#include "kvspill.h"

typedef enum kvs_presence_state {
    KVS_PRESENCE_UNKNOWN = 0,
    KVS_PRESENCE_PRESENT = 1,
    KVS_PRESENCE_ABSENT = 2,
} kvs_presence_state;

typedef struct kvs_presence_entry {
    kvs_key key;
    uint64_t seen_ns;
    uint8_t state;
} kvs_presence_entry;

typedef struct kvs_presence {
    pthread_mutex_t lock;
    kvs_presence_entry *slots;
    size_t n_slots;
    uint64_t present_ttl_ns, absent_ttl_ns;
} kvs_presence;

kvs_status kvs_presence_init(kvs_presence *p, size_t n_slots, uint64_t present_ttl_ns,
                             uint64_t absent_ttl_ns, kvs_error *err);
void kvs_presence_destroy(kvs_presence *p);
kvs_presence_state kvs_presence_get(kvs_presence *p, const kvs_key *key, uint64_t now_ns);
void kvs_presence_set(kvs_presence *p, const kvs_key *key, kvs_presence_state state,
                      uint64_t now_ns);

#endif
