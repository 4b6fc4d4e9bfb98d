/* The cache engine: opens the tiers fastest first, answers lookups, removes, flushes,
 * reports statistics, and closes. Puts are in cache_put.c and write_queue.c, gets in
 * cache_get.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "cache/deadline.h"
#include "cache/error.h"
#include "cache/object.h"

/* How long close waits for queued writes before it abandons them. */
#define CLOSE_FLUSH_TIMEOUT_MS 30000
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_COMMAND_TIMEOUT_MS 5000

static const char *strip_file_url(const char *path)
{
    return strncmp(path, "file://", 7) == 0 ? path + 7 : path;
}

static kvs_status validate(const kvs_config *cfg, kvs_error *err)
{
    if (cfg->io_threads == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "config: io_threads must be > 0");
    if (cfg->io_depth == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "config: io_depth must be > 0");
    if ((unsigned)cfg->durability > KVS_DURABILITY_DATA)
        return kvs_fail(err, KVS_ERR_INVALID, "config: durability %u is not none or data",
                        (unsigned)cfg->durability);
    const kvs_gpu_ops *g = cfg->gpu;
    if (g && (!g->host_alloc || !g->host_free || !g->device_alloc || !g->device_free ||
              !g->bind_thread || !g->copy_to_host || !g->copy_to_device || !g->xxh3_64))
        return kvs_fail(err, KVS_ERR_INVALID, "config: gpu operations given with a NULL "
                        "function");
    return KVS_OK;
}

static kvs_status open_tiers(kvs_cache *c, kvs_error *err)
{
    const kvs_config *cfg = &c->cfg;
    kvs_status st = KVS_OK;
    kvs_tier *t = NULL;
    if (cfg->local_cpu && cfg->max_local_cpu_size > 0) {
        if ((st = kvs_tier_mem_open(cfg->max_local_cpu_size, &t, err)) != KVS_OK)
            return st;
        c->mem = c->tiers[c->n_tiers++] = t;
    }
    c->first_slow = c->n_tiers;
    kvs_file_tier_options fo = {.durability = cfg->durability, .io_depth = cfg->io_depth,
                                .writer_id = cfg->writer_id, .file_mode = cfg->file_mode};
    if (cfg->local_disk[0] && cfg->max_local_disk_size > 0) {
        fo.name = "local_disk";
        fo.root = strip_file_url(cfg->local_disk);
        fo.capacity_bytes = cfg->max_local_disk_size;
        if ((st = kvs_tier_file_open(&fo, &t, err)) != KVS_OK)
            return st;
        c->local_disk = (int)c->n_tiers;
        c->tiers[c->n_tiers++] = t;
    }
    if (cfg->gds_path[0]) {
        fo.name = "gds";
        fo.root = strip_file_url(cfg->gds_path);
        fo.capacity_bytes = cfg->max_gds_size;
        fo.gpu = cfg->gpu;
        fo.cufile_buffer_size = cfg->cufile_buffer_size;
        if ((st = kvs_tier_file_open(&fo, &t, err)) != KVS_OK)
            return st;
        c->tiers[c->n_tiers++] = t;
    }
    if (cfg->remote_url[0]) {
        kvs_redis_tier_options ro = {.url = cfg->remote_url, .pool_size = cfg->io_threads,
                                     .connect_timeout_ms = REDIS_CONNECT_TIMEOUT_MS,
                                     .command_timeout_ms = REDIS_COMMAND_TIMEOUT_MS};
        if ((st = kvs_tier_redis_open(&ro, &t, err)) != KVS_OK)
            return st;
        c->tiers[c->n_tiers++] = t;
    }
    return KVS_OK;
}

static void free_cache(kvs_cache *c)
{
    for (uint32_t i = 0; i < c->n_tiers; i++)
        c->tiers[i]->methods->close(c->tiers[i]);
    if (c->cfg.gpu)
        kvs_object_unpin_buffers(c->cfg.gpu);
    kvs_keymap_destroy(&c->flights);
    pthread_mutex_destroy(&c->flight_lock);
    pthread_cond_destroy(&c->write_idle);
    pthread_mutex_destroy(&c->write_lock);
    free(c);
}

kvs_status kvs_cache_open(const kvs_config *cfg, kvs_cache **out, kvs_error *err)
{
    if (!out)
        return kvs_fail(err, KVS_ERR_INVALID, "cache: NULL output pointer");
    *out = NULL;
    if (!cfg)
        return kvs_fail(err, KVS_ERR_INVALID, "cache: NULL configuration");
    kvs_status st = validate(cfg, err);
    if (st != KVS_OK)
        return st;
    kvs_cache *c = calloc(1, sizeof *c);
    if (!c)
        return kvs_fail(err, KVS_ERR_NOMEM, "cache: out of memory");
    c->cfg = *cfg;
    c->local_disk = -1;
    int rc = kvs_cond_init_monotonic(&c->write_idle);
    if (rc != 0) {
        free(c);
        return kvs_fail_errno(err, rc, "cache: create the write queue's condition");
    }
    pthread_mutex_init(&c->write_lock, NULL);
    pthread_mutex_init(&c->flight_lock, NULL);
    if (cfg->gpu) /* undone by free_cache */
        kvs_object_pin_buffers(cfg->gpu);
    if ((st = kvs_keymap_init(&c->flights, err)) != KVS_OK ||
        (st = open_tiers(c, err)) != KVS_OK) {
        free_cache(c);
        return st;
    }
    if ((st = kvs_io_pool_start(&c->pool, cfg->io_threads, err)) != KVS_OK) {
        free_cache(c);
        return st;
    }
    *out = c;
    return KVS_OK;
}

void kvs_cache_close(kvs_cache *cache)
{
    if (!cache)
        return;
    kvs_cache_flush(cache, CLOSE_FLUSH_TIMEOUT_MS, NULL);
    kvs_io_pool_stop(&cache->pool); /* cancels writes still queued, and loads */
    free_cache(cache);
}

const kvs_config *kvs_cache_config(const kvs_cache *cache)
{
    return &cache->cfg;
}

kvs_status kvs_cache_flush(kvs_cache *cache, int timeout_ms, kvs_error *err)
{
    if (!cache)
        return kvs_fail(err, KVS_ERR_INVALID, "flush: NULL cache");
    struct timespec deadline = kvs_deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&cache->write_lock);
    while (cache->write_jobs > 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&cache->write_idle, &cache->write_lock);
        else if (timeout_ms == 0 || pthread_cond_timedwait(&cache->write_idle,
                                                           &cache->write_lock,
                                                           &deadline) == ETIMEDOUT)
            break;
    }
    uint64_t left = cache->write_jobs, bytes = cache->write_queue_bytes;
    pthread_mutex_unlock(&cache->write_lock);
    if (left > 0)
        return kvs_fail(err, KVS_ERR_TIMEOUT,
                        "flush: %llu write jobs (%llu bytes) still queued after %d ms",
                        (unsigned long long)left, (unsigned long long)bytes, timeout_ms);
    return KVS_OK;
}

kvs_status kvs_lookup_tiers(kvs_cache *cache, const kvs_key *ns, const kvs_key *keys, size_t n,
                            uint8_t *tier_of_chunk, size_t *n_hit, kvs_error *err)
{
    if (!cache || !ns || !n_hit || (n > 0 && !keys))
        return kvs_fail(err, KVS_ERR_INVALID, "lookup: NULL argument");
    /* Tiers may hold different stretches of the chain (memory evicted the start, the disk
     * has it): go round the tiers until every one of them has failed to extend the prefix
     * since it was last asked. A tier that just extended it would fail at once: it counts. */
    size_t pos = 0;
    uint32_t idle = 0;
    for (uint32_t t = 0; pos < n && idle < cache->n_tiers; t = (t + 1) % cache->n_tiers) {
        kvs_tier *tier = cache->tiers[t];
        size_t more = tier->methods->contains_prefix(tier, ns, keys + pos, n - pos);
        if (tier_of_chunk)
            memset(tier_of_chunk + pos, (int)t, more);
        pos += more;
        idle = more ? 1 : idle + 1;
    }
    /* A storage tier may have answered for chunks memory holds too (memory had lost an
     * earlier one); a get serves those from memory. Asking memory is a hash lookup. */
    if (tier_of_chunk && cache->mem)
        for (size_t i = 0; i < pos; i++)
            if (tier_of_chunk[i] != 0 &&
                cache->mem->methods->contains_prefix(cache->mem, ns, &keys[i], 1) == 1)
                tier_of_chunk[i] = 0;
    *n_hit = pos;
    atomic_fetch_add(&cache->lookups, 1);
    atomic_fetch_add(&cache->lookup_hit_chunks, pos);
    atomic_fetch_add(&cache->lookup_miss_chunks, n - pos);
    return KVS_OK;
}

kvs_status kvs_lookup(kvs_cache *cache, const kvs_key *ns, const kvs_key *keys, size_t n,
                      size_t *n_hit, kvs_error *err)
{
    return kvs_lookup_tiers(cache, ns, keys, n, NULL, n_hit, err);
}

kvs_status kvs_remove(kvs_cache *cache, const kvs_key *ns, const kvs_key *key, kvs_error *err)
{
    if (!cache || !ns || !key)
        return kvs_fail(err, KVS_ERR_INVALID, "remove: NULL argument");
    kvs_status first = KVS_OK;
    for (uint32_t t = 0; t < cache->n_tiers; t++) {
        kvs_error e;
        kvs_status st = cache->tiers[t]->methods->remove(cache->tiers[t], ns, key, &e);
        if (st != KVS_OK && first == KVS_OK) {
            first = st;
            kvs_fail(err, st, "remove from %s: %s", cache->tiers[t]->name, e.msg);
        }
    }
    return first;
}

void kvs_cache_stats(kvs_cache *cache, kvs_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    stats->n_tiers = cache->n_tiers;
    for (uint32_t t = 0; t < cache->n_tiers; t++) {
        kvs_tier *tier = cache->tiers[t];
        kvs_tier_stats *s = &stats->tiers[t];
        tier->methods->stats(tier, s);
        memcpy(s->name, tier->name, sizeof s->name);
        if (!s->last_error[0]) {
            pthread_mutex_lock(&tier->error_lock);
            memcpy(s->last_error, tier->last_error, sizeof s->last_error);
            pthread_mutex_unlock(&tier->error_lock);
        }
    }
    stats->lookups = atomic_load(&cache->lookups);
    stats->lookup_hit_chunks = atomic_load(&cache->lookup_hit_chunks);
    stats->lookup_miss_chunks = atomic_load(&cache->lookup_miss_chunks);
    stats->puts = atomic_load(&cache->puts);
    stats->dropped_puts = atomic_load(&cache->dropped_puts);
    stats->gets = atomic_load(&cache->gets);
    stats->single_flight_joins = atomic_load(&cache->single_flight_joins);
    pthread_mutex_lock(&cache->write_lock);
    stats->write_queue_bytes = cache->write_queue_bytes;
    pthread_mutex_unlock(&cache->write_lock);
}
