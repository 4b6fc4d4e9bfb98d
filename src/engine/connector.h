/* The KV offload connector (LMCache's role for vLLM; ARCHITECTURE.md §2, §5): at admission
 * it looks up the chunks of a prompt past what the in-memory prefix cache already holds, decides
 * whether loading them beats recomputing, loads them asynchronously and scatters their K/V
 * into the sequence's blocks; as full chunks are computed it gathers and stores them
 * without ever blocking the scheduler. Scatter and gather are the backend's KV transfers
 * (model/backend.h), so the blocks may be in device memory. Used from the scheduler thread
 * only, but for connector_lookup_prefix. */
#ifndef KVSPILL_ENGINE_CONNECTOR_H
#define KVSPILL_ENGINE_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/kv_paged.h"
#include "engine/load_plan.h"
#include "kvspill.h"
#include "model/backend.h"

typedef struct connector connector;

/* Per-sequence state, embedded in the sequence; zero-initialized means nothing pending. */
typedef struct conn_seq {
    kvs_key *keys;          /* chunk keys of the sequence's full chunks so far (room for
                               one more: a lookup's partial chunk) */
    uint8_t *tier_of;       /* per key: the tier the last lookup found it on */
    uint32_t n_keys, cap_keys;
    uint32_t n_stored;      /* chunks [0, n_stored) are in the cache or on their way */
    bool partial_stored;    /* the prompt's partial chunk too (save_unfull_chunk) */
    kvs_batch **loads;      /* the gets in flight, in chunk order; NULL: no load pending */
    uint32_t n_loads;       /* gets started */
    uint32_t load_next;     /* the first get not yet scattered */
    uint32_t load_per;      /* chunks per get (the last one may have fewer) */
    uint32_t load_first;    /* first chunk asked for */
    uint32_t load_skip;     /* positions below this are already in blocks (prefix cache) */
    uint32_t load_end;      /* positions from load_skip up to this come from the load */
    uint32_t load_at;       /* positions from load_skip up to this are scattered so far */
    uint32_t load_covered;  /* the looked-up chunks' tokens end here (inside the last one
                               when it is a partial chunk) */
    bool load_fenced;       /* a scatter was queued: load_fence is its last transfer */
    uint64_t load_fence;
    uint64_t load_plan_bytes[KVS_MAX_TIERS]; /* bytes asked of each tier, by the lookup */
    uint64_t load_got[KVS_MAX_TIERS]; /* bytes scattered so far, by serving tier */
    uint32_t load_tokens[KVS_MAX_TIERS]; /* positions scattered by the last load, by tier */
    double load_start, load_deadline; /* monotonic seconds; deadline 0: none */
    double load_seen;       /* the last time the load was seen running */
} conn_seq;

/* kv's blocks are in be's memory; both must outlive the connector. est is the engine's
 * load-or-compute estimate (load_plan.h), which must outlive it too: the connector sets its
 * tiers' priors, plans loads with it and feeds it their timings; the engine feeds it the
 * prefill steps. Scheduler thread only. */
int connector_create(const engine_config *cfg, backend *be, kv_paged *kv,
                     const kvs_layout *layout, load_est *est, connector **out,
                     engine_error *err) ENGINE_MUST_CHECK;
/* Waits for the gathers in flight, hands their chunks to the cache, waits for queued
 * stores (bounded), frees everything. */
void connector_destroy(connector *c);

/* At admission. tokens[0, n_tokens) is the sequence; positions [0, have) are already in
 * its blocks. Looks the chunks up and, when loading pays, starts the load and returns in
 * *load_end the position up to which the sequence's blocks must be reserved (> have);
 * otherwise *load_end = have and nothing is pending. The hit never covers the last token. */
void connector_admit(connector *c, conn_seq *cs, const kvs_key *ns, const int32_t *tokens,
                     uint32_t n_tokens, uint32_t have, uint32_t *load_end);
/* For a sequence with a load pending: scatters the chunks that arrived, in order, waiting
 * up to wait_ms (0: just looks) for the next. Returns true when the load is over, with
 * *loaded_end the position the sequence's blocks now hold: up to the first missing or
 * corrupt chunk, or what had arrived by the deadline (have when nothing). */
bool connector_poll(connector *c, conn_seq *cs, uint32_t slot, int wait_ms, uint32_t *loaded_end);
/* After a step: stores the full chunks of tokens[0, n_computed) not yet stored (prompt
 * chunks, decode chunks too with save_decode_cache), and with save_unfull_chunk the
 * prompt's trailing partial chunk once the prompt is computed (a lookup of the same
 * prompt then covers all of it but the last token). Chunks go to the cache once the
 * transfers gathering them are done: at once on the CPU, at a later tick on a GPU. */
void connector_store(connector *c, conn_seq *cs, const kvs_key *ns, uint32_t slot,
                     const int32_t *tokens, uint32_t n_computed, uint32_t n_prompt);
/* The sequence leaves (finished, cancelled, preempted): drops its state; a load in flight
 * is abandoned (reaped later). */
void connector_seq_reset(connector *c, conn_seq *cs);
/* Stores the chunks whose gather is done, reaps finished stores and abandoned loads. */
void connector_tick(connector *c);
/* The tokens of tokens[0, n_tokens)'s prefix that each tier holds (indexed as
 * kvs_stats.tiers; full chunks, each credited to the fastest tier that has it), for a
 * router. Any thread: it reads no state of the connector. */
int connector_lookup_prefix(connector *c, const kvs_key *ns, const int32_t *tokens,
                            uint32_t n_tokens, uint32_t tier_tokens[KVS_MAX_TIERS],
                            engine_error *err) ENGINE_MUST_CHECK;
/* Adds the connector's counters and histograms to *st. */
void connector_stats(connector *c, engine_stats *st);
/* The name of tier i, NULL past the last. */
const char *connector_tier_name(const connector *c, unsigned i);

#endif
