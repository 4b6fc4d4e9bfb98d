#include "cache/file_estimate.h"

void kvs_estimate_init(kvs_dir_estimate *e, uint64_t capacity)
{
    *e = (kvs_dir_estimate){.capacity = capacity};
    pthread_mutex_init(&e->lock, NULL);
}

void kvs_estimate_destroy(kvs_dir_estimate *e)
{
    pthread_mutex_destroy(&e->lock);
}

uint64_t kvs_estimate_bytes(kvs_dir_estimate *e)
{
    pthread_mutex_lock(&e->lock);
    uint64_t v = e->used_at_scan + e->written + e->in_flight;
    pthread_mutex_unlock(&e->lock);
    return v;
}

uint64_t kvs_estimate_unscanned(kvs_dir_estimate *e)
{
    pthread_mutex_lock(&e->lock);
    uint64_t v = e->written;
    pthread_mutex_unlock(&e->lock);
    return v;
}

bool kvs_estimate_claim(kvs_dir_estimate *e, uint64_t bytes)
{
    pthread_mutex_lock(&e->lock);
    bool fits = e->used_at_scan + e->written + e->in_flight + bytes <= e->capacity;
    if (fits)
        e->in_flight += bytes;
    pthread_mutex_unlock(&e->lock);
    return fits;
}

void kvs_estimate_release(kvs_dir_estimate *e, uint64_t bytes)
{
    pthread_mutex_lock(&e->lock);
    e->in_flight -= bytes < e->in_flight ? bytes : e->in_flight;
    pthread_mutex_unlock(&e->lock);
}

void kvs_estimate_publish(kvs_dir_estimate *e, uint64_t bytes, uint64_t mono_ns,
                          uint64_t real_ns)
{
    pthread_mutex_lock(&e->lock);
    e->in_flight -= bytes < e->in_flight ? bytes : e->in_flight;
    if (e->n == KVS_ESTIMATE_LOG) { /* merge the oldest into the next, under its later stamps */
        unsigned next = (e->head + 1) % KVS_ESTIMATE_LOG;
        e->log[next].bytes += e->log[e->head].bytes;
        e->head = next;
        e->n--;
    }
    unsigned tail = (e->head + e->n) % KVS_ESTIMATE_LOG;
    e->log[tail].mono_ns = mono_ns;
    e->log[tail].real_ns = real_ns;
    e->log[tail].bytes = bytes;
    e->n++;
    e->written += bytes;
    pthread_mutex_unlock(&e->lock);
}

/* Caller holds the lock. Drops log entries from the front while the stamp is before `before`
 * (mono or real). */
static void drop_before(kvs_dir_estimate *e, uint64_t before, bool mono)
{
    while (e->n && (mono ? e->log[e->head].mono_ns : e->log[e->head].real_ns) < before) {
        e->written -= e->log[e->head].bytes;
        e->head = (e->head + 1) % KVS_ESTIMATE_LOG;
        e->n--;
    }
}

void kvs_estimate_own_scan(kvs_dir_estimate *e, uint64_t used_bytes, uint64_t mono_ns,
                           uint64_t real_ns)
{
    pthread_mutex_lock(&e->lock);
    drop_before(e, mono_ns, true);
    e->used_at_scan = used_bytes;
    e->scan_at_ns = real_ns;
    pthread_mutex_unlock(&e->lock);
}

bool kvs_estimate_take_record(kvs_dir_estimate *e, uint64_t used_bytes, uint64_t real_ns)
{
    pthread_mutex_lock(&e->lock);
    bool take = real_ns > e->scan_at_ns;
    if (take) {
        drop_before(e, real_ns, false);
        e->used_at_scan = used_bytes;
        e->scan_at_ns = real_ns;
    }
    pthread_mutex_unlock(&e->lock);
    return take;
}
