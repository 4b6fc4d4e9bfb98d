/* The mem tier: host RAM bounded in bytes, least-recently-used eviction. It holds a
 * reference to each sealed chunk rather than a copy, so a get is zero-copy and eviction
 * only drops the tier's reference: bytes a reader still holds stay alive until the
 * reader releases them. One mutex guards the index and the LRU list; chunks are released
 * outside it (releasing may free megabytes). */
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "cache/keymap.h"
#include "cache/object.h"
#include "cache/tier.h"

typedef struct mem_entry {
    kvs_keymap_node node; /* first: the map hands back this pointer */
    kvs_chunk *chunk;
    struct mem_entry *prev, *next; /* LRU list: head is the most recently used */
} mem_entry;

typedef struct mem_tier {
    kvs_tier base;
    pthread_mutex_t lock;
    kvs_keymap index;
    mem_entry *head, *tail;
    uint64_t capacity, used;
    uint64_t hits, misses, bytes_read, bytes_written, puts, put_errors, corrupt, evictions;
} mem_tier;

static void lru_unlink(mem_tier *t, mem_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(mem_tier *t, mem_entry *e)
{
    e->prev = NULL;
    e->next = t->head;
    if (t->head)
        t->head->prev = e;
    t->head = e;
    if (!t->tail)
        t->tail = e;
}

static void lru_touch(mem_tier *t, mem_entry *e)
{
    if (t->head != e) {
        lru_unlink(t, e);
        lru_push_front(t, e);
    }
}

/* Takes e out of the tier; the caller releases e->chunk (outside the lock) and frees e. */
static void detach(mem_tier *t, mem_entry *e)
{
    lru_unlink(t, e);
    kvs_keymap_remove(&t->index, &e->node);
    t->used -= e->chunk->total_size;
}

static mem_entry *find(mem_tier *t, const kvs_key *ns, const kvs_key *key)
{
    return (mem_entry *)kvs_keymap_find(&t->index, ns, key);
}

static size_t mem_contains_prefix(kvs_tier *tier, const kvs_key *ns, const kvs_key *keys,
                                  size_t n)
{
    mem_tier *t = (mem_tier *)tier;
    size_t i = 0;
    pthread_mutex_lock(&t->lock);
    for (; i < n; i++) {
        mem_entry *e = find(t, ns, &keys[i]);
        if (!e)
            break;
        lru_touch(t, e); /* about to be loaded: keep it */
    }
    pthread_mutex_unlock(&t->lock);
    return i;
}

static bool tokens_match(const kvs_chunk *c, const kvs_chunk_request *r)
{
    if (!r->tokens)
        return true;
    return c->info.n_tokens == r->n_tokens &&
           memcmp(c->tokens, r->tokens, (size_t)r->n_tokens * sizeof *r->tokens) == 0;
}

static void mem_get(kvs_tier *tier, const kvs_key *ns, const kvs_chunk_request *reqs, size_t n,
                    kvs_chunk **out, kvs_status *status)
{
    mem_tier *t = (mem_tier *)tier;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        mem_entry *e = find(t, ns, &reqs[i].key);
        if (!e) {
            status[i] = KVS_ERR_NOT_FOUND;
            t->misses++;
        } else if (!tokens_match(e->chunk, &reqs[i])) {
            /* Same key, other tokens: a wrong object must not reach the caller. It stays,
             * since in memory it is exactly what was put under that key. */
            status[i] = KVS_ERR_CORRUPT;
            t->corrupt++;
        } else {
            out[i] = kvs_chunk_ref(e->chunk);
            status[i] = KVS_OK;
            lru_touch(t, e);
            t->hits++;
            t->bytes_read += e->chunk->info.payload_size;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

/* Evicts from the LRU tail until `need` more bytes fit; the evicted entries go on *freed
 * for release after unlocking. */
static void make_room(mem_tier *t, uint64_t need, mem_entry **freed)
{
    while (t->tail && t->used + need > t->capacity) {
        mem_entry *victim = t->tail;
        detach(t, victim);
        victim->next = *freed;
        *freed = victim;
        t->evictions++;
    }
}

static void mem_put(kvs_tier *tier, kvs_chunk *const *chunks, size_t n, kvs_status *status)
{
    mem_tier *t = (mem_tier *)tier;
    mem_entry *freed = NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        kvs_chunk *c = chunks[i];
        if (!c || !c->sealed || c->external) { /* a device chunk would hold its GPU slot */
            status[i] = KVS_ERR_INVALID;
            t->put_errors++;
            continue;
        }
        t->puts++;
        mem_entry *e = find(t, &c->info.ns, &c->info.key);
        if (e) { /* the same key holds the same bytes */
            lru_touch(t, e);
            status[i] = KVS_OK;
            continue;
        }
        if (c->total_size > t->capacity) {
            status[i] = KVS_ERR_FULL;
            t->put_errors++;
            continue;
        }
        e = calloc(1, sizeof *e);
        if (!e) {
            status[i] = KVS_ERR_NOMEM;
            t->put_errors++;
            continue;
        }
        make_room(t, c->total_size, &freed);
        e->node.ns = c->info.ns;
        e->node.key = c->info.key;
        e->chunk = kvs_chunk_ref(c);
        kvs_keymap_insert(&t->index, &e->node);
        lru_push_front(t, e);
        t->used += c->total_size;
        t->bytes_written += c->info.payload_size;
        status[i] = KVS_OK;
    }
    pthread_mutex_unlock(&t->lock);
    while (freed) {
        mem_entry *next = freed->next;
        kvs_chunk_release(freed->chunk);
        free(freed);
        freed = next;
    }
}

static kvs_status mem_remove(kvs_tier *tier, const kvs_key *ns, const kvs_key *key,
                             kvs_error *err)
{
    mem_tier *t = (mem_tier *)tier;
    pthread_mutex_lock(&t->lock);
    mem_entry *e = find(t, ns, key);
    if (e)
        detach(t, e);
    pthread_mutex_unlock(&t->lock);
    if (e) {
        kvs_chunk_release(e->chunk);
        free(e);
    }
    return KVS_OK;
}

static void mem_stats(kvs_tier *tier, kvs_tier_stats *out)
{
    mem_tier *t = (mem_tier *)tier;
    memset(out, 0, sizeof *out);
    memcpy(out->name, tier->name, sizeof out->name);
    pthread_mutex_lock(&t->lock);
    out->hits = t->hits;
    out->misses = t->misses;
    out->bytes_read = t->bytes_read;
    out->bytes_written = t->bytes_written;
    out->puts = t->puts;
    out->put_errors = t->put_errors;
    out->corrupt = t->corrupt;
    out->evictions = t->evictions;
    out->used_bytes = t->used;
    out->capacity_bytes = t->capacity;
    out->objects = t->index.count;
    pthread_mutex_unlock(&t->lock);
}

static void mem_close(kvs_tier *tier)
{
    mem_tier *t = (mem_tier *)tier;
    mem_entry *e = t->head;
    while (e) {
        mem_entry *next = e->next;
        kvs_chunk_release(e->chunk);
        free(e);
        e = next;
    }
    kvs_keymap_destroy(&t->index);
    pthread_mutex_destroy(&t->lock);
    kvs_tier_base_destroy(&t->base);
    free(t);
}

static const kvs_tier_methods mem_methods = {
    .contains_prefix = mem_contains_prefix,
    .get = mem_get,
    .put = mem_put,
    .remove = mem_remove,
    .stats = mem_stats,
    .close = mem_close,
};

kvs_status kvs_tier_mem_open(uint64_t capacity_bytes, kvs_tier **out, kvs_error *err)
{
    *out = NULL;
    if (capacity_bytes == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "mem tier: capacity must be > 0 bytes");
    mem_tier *t = calloc(1, sizeof *t);
    if (!t)
        return kvs_fail(err, KVS_ERR_NOMEM, "mem tier: out of memory");
    kvs_status st = kvs_keymap_init(&t->index, err);
    if (st != KVS_OK) {
        free(t);
        return st;
    }
    kvs_tier_base_init(&t->base, &mem_methods, "mem");
    pthread_mutex_init(&t->lock, NULL);
    t->capacity = capacity_bytes;
    *out = &t->base;
    return KVS_OK;
}
