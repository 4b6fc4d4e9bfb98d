/* Load-or-compute (ARCHITECTURE.md §2): running estimates of each tier's read bandwidth and of the
 * engine's prefill speed, and the decision of how many hit chunks to load. Pure: no clock,
 * no I/O, so the connector feeds it measurements and its unit test feeds it hand-made ones.
 *
 * A hit is a run of chunks in prompt order, each on some tier. Loading chunks [0, k) is
 * expected to take the sum of bytes_i / bw(tier_i); computing them the sum of their tokens
 * over the prefill speed. The plan loads the longest such prefix that is expected to be
 * faster to load than to compute: a prefix in memory can pay while a tail on a slow disk
 * does not. Chunks past a chunk that is not loaded are recomputed anyway (KV is causal). */
#ifndef KVSPILL_ENGINE_LOAD_PLAN_H
#define KVSPILL_ENGINE_LOAD_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "kvspill.h"

typedef struct load_est {
    double tier_bps[KVS_MAX_TIERS]; /* bytes/s per tier, indexed as kvs_stats.tiers */
    double compute_tps;             /* prefill tokens/s */
    bool compute_measured;          /* compute_tps is this engine's, not the prior */
} load_est;

/* One hit chunk: the tier that holds it, its payload bytes, and the prompt tokens its
 * load saves computing (fewer than its own when the prefix cache has some of them or
 * the last prompt token is in it). */
typedef struct load_item {
    int tier;
    uint64_t bytes;
    uint32_t tokens;
} load_item;

/* How a measured time bounds a load: EXACT when the load ended when it was timed; AT_MOST
 * when it ended at some unknown point before (a step ran between two looks); AT_LEAST when
 * it had not ended (it was abandoned at its deadline). */
typedef enum load_timing { LOAD_EXACT, LOAD_AT_MOST, LOAD_AT_LEAST } load_timing;

/* Before any measurement: each tier's prior from its kvs_stats name (mem ≫ local_disk,
 * gds > redis) and a modest CPU prefill speed. */
void load_est_init(load_est *e, const kvs_stats *tiers);
double load_prior_bps(const char *tier_name);

/* The number of leading items [0, n) to load; *load_s and *compute_s get the estimated
 * times of that prefix (0 for none). */
uint32_t load_plan(const load_est *e, const load_item *items, uint32_t n, double *load_s,
                   double *compute_s);

/* One load of bytes[t] bytes from each tier t took `seconds` (bounded as `timing` says).
 * The time is split over the tiers in proportion to their expected shares, i.e. every
 * involved tier's estimate is scaled by expected ÷ measured time (exact for one tier). */
void load_est_observe(load_est *e, const uint64_t bytes[KVS_MAX_TIERS], double seconds,
                      load_timing timing);
/* A prefill step computed `tokens` in `seconds`: the first replaces the prior (a model's
 * speed is nothing like a constant's), later ones move the average. */
void load_est_note_compute(load_est *e, uint32_t tokens, double seconds);

/* A prompt's time to first token here (engine_prefix_lookup, docs/router.md), from the
 * prompt tokens to prefill ahead of it and its own uncached ones: each scheduler step of
 * `step_tokens` carries a token of each of the `decode_running` sequences first, so the
 * prefill takes ceil(prefill / (step_tokens - decode_running)) steps (at least one) and
 * every step costs its decode tokens too, all at the measured rate; plus load_s, the slow
 * tiers' share. */
double ttft_estimate_s(const load_est *e, uint64_t queued_tokens, uint64_t uncached_tokens,
                       uint64_t decode_running, uint32_t step_tokens, double load_s);

#endif
