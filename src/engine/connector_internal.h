/* What connector.c (lookup, load, store) and connector_inflight.c (the work in flight and
 * when it may be put or freed) share. Scheduler thread only, except the counters. */
#ifndef KVSPILL_ENGINE_CONNECTOR_INTERNAL_H
#define KVSPILL_ENGINE_CONNECTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/connector.h"
#include "engine/load_plan.h"

/* A batch in flight. A load batch whose chunks were scattered also waits for the
 * transfers reading their payloads (fenced). */
typedef struct pending {
    kvs_batch *batch;
    double t0;
    bool fenced;
    uint64_t fence;
} pending;

typedef struct pending_list {
    pending *v;
    size_t n, cap;
} pending_list;

/* Chunks whose payloads the transfers up to fence are filling; put once they are done.
 * The blocks they read are held (one reference each) until then, so that a sequence that
 * ends meanwhile cannot hand them to a step that overwrites them: on a GPU the gathers run
 * on their own stream while the next steps compute. */
typedef struct gathering {
    kvs_chunk **chunks;
    uint32_t n;
    uint64_t fence;
    double t0;
    uint32_t *blocks;
    uint32_t n_blocks;
} gathering;

typedef struct gathering_list {
    gathering *v;
    size_t n, cap;
} gathering_list;

struct connector {
    kvs_cache *cache;
    backend *be;
    kv_paged *kv;
    kvs_layout layout;  /* of the chunks: the paged cache's shape, the codec's dtype */
    kv_codec codec;
    uint32_t chunk;
    char tier_names[KVS_MAX_TIERS][17]; /* kvs_stats names; "" past the last tier */
    engine_kv_role role;
    bool save_decode, always_load, save_unfull;
    load_est *est;                /* the engine's: per-tier bandwidth and prefill speed */
    pending_list puts, orphans;   /* stores in flight, abandoned loads */
    gathering_list gathers;       /* stores whose gather is not done yet */

    pthread_mutex_t mu;           /* the counters below, read by connector_stats */
    uint64_t hit_tokens, loaded_tokens, stored_chunks;
    engine_histogram h_load, h_store;
};

/* Monotonic seconds. */
double connector_now(void);

/* A load's batch the connector is done with: freed once it is done and, when fenced, the
 * scatter's transfers reading it are too. */
void inflight_drop_load(connector *c, pending p);
/* Takes over g's chunks (and array): put once the transfers up to g.fence are done, at
 * once when they already are. */
void inflight_store(connector *c, gathering g);
/* Puts the gathers that are done; reaps finished stores (counting them) and dropped loads. */
void inflight_tick(connector *c);
/* At shutdown: waits for every gather and puts it, waits (bounded) for queued stores,
 * frees every batch. */
void inflight_drain(connector *c);

#endif
