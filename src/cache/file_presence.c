#include "cache/file_presence.h"

#include <stdlib.h>
#include <string.h>

#include "cache/error.h"

kvs_status kvs_presence_init(kvs_presence *p, size_t n_slots, uint64_t present_ttl_ns,
                             uint64_t absent_ttl_ns, kvs_error *err)
{
    memset(p, 0, sizeof *p);
    p->n_slots = n_slots ? n_slots : 1;
    p->slots = calloc(p->n_slots, sizeof *p->slots);
    if (!p->slots)
        return kvs_fail(err, KVS_ERR_NOMEM, "presence index: cannot allocate %zu slots",
                        p->n_slots);
    p->present_ttl_ns = present_ttl_ns;
    p->absent_ttl_ns = absent_ttl_ns;
    pthread_mutex_init(&p->lock, NULL);
    return KVS_OK;
}

void kvs_presence_destroy(kvs_presence *p)
{
    if (!p->slots)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    p->slots = NULL;
}

/* Keys are SHA-256 outputs: their first bytes are already uniformly distributed. */
static kvs_presence_entry *slot_of(kvs_presence *p, const kvs_key *key)
{
    uint64_t h;
    memcpy(&h, key->b, sizeof h);
    return &p->slots[h % p->n_slots];
}

kvs_presence_state kvs_presence_get(kvs_presence *p, const kvs_key *key, uint64_t now_ns)
{
    pthread_mutex_lock(&p->lock);
    kvs_presence_entry *e = slot_of(p, key);
    kvs_presence_state st = KVS_PRESENCE_UNKNOWN;
    if (e->state != KVS_PRESENCE_UNKNOWN && kvs_key_equal(&e->key, key)) {
        uint64_t ttl = e->state == KVS_PRESENCE_PRESENT ? p->present_ttl_ns : p->absent_ttl_ns;
        if (now_ns - e->seen_ns < ttl)
            st = (kvs_presence_state)e->state;
    }
    pthread_mutex_unlock(&p->lock);
    return st;
}

void kvs_presence_set(kvs_presence *p, const kvs_key *key, kvs_presence_state state,
                      uint64_t now_ns)
{
    pthread_mutex_lock(&p->lock);
    kvs_presence_entry *e = slot_of(p, key);
    e->key = *key;
    e->seen_ns = now_ns;
    e->state = (uint8_t)state;
    pthread_mutex_unlock(&p->lock);
}
