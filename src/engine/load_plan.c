/* The load-or-compute estimates and plan: exponential moving averages of measured rates,
 * and a walk along the hit chunks keeping the longest prefix that beats recomputing. */
#include "engine/load_plan.h"

#include <string.h>

/* Priors, before a tier has been measured. Memory: a zero-copy hit and one memcpy into
 * the paged cache (several GB/s even on a loaded core). Files: a local NVMe or the page
 * cache, through the verifying reader. Redis: a network round trip per pipeline and a copy
 * out of the reply. A CPU prefill of a small model: about a thousand tokens a second. */
#define PRIOR_MEM_BPS 8e9
#define PRIOR_FILE_BPS 1e9
#define PRIOR_REDIS_BPS 2e8
#define PRIOR_COMPUTE_TPS 1000.0
#define EMA_WEIGHT 0.25

static double ema(double old, double sample) { return old + EMA_WEIGHT * (sample - old); }

double load_prior_bps(const char *tier_name)
{
    if (strcmp(tier_name, "mem") == 0)
        return PRIOR_MEM_BPS;
    if (strcmp(tier_name, "redis") == 0)
        return PRIOR_REDIS_BPS;
    return PRIOR_FILE_BPS; /* local_disk, gds */
}

void load_est_init(load_est *e, const kvs_stats *tiers)
{
    memset(e, 0, sizeof *e);
    for (uint32_t t = 0; t < KVS_MAX_TIERS; t++) /* unused slots: any positive rate */
        e->tier_bps[t] = load_prior_bps(t < tiers->n_tiers ? tiers->tiers[t].name : "");
    e->compute_tps = PRIOR_COMPUTE_TPS;
}

uint32_t load_plan(const load_est *e, const load_item *items, uint32_t n, double *load_s,
                   double *compute_s)
{
    double load = 0, compute = 0;
    uint32_t best = 0;
    *load_s = *compute_s = 0;
    for (uint32_t i = 0; i < n; i++) {
        int t = items[i].tier;
        if (t < 0 || t >= KVS_MAX_TIERS)
            break; /* not held anywhere we know of: the hit ends here */
        load += (double)items[i].bytes / e->tier_bps[t];
        compute += items[i].tokens / e->compute_tps;
        if (load < compute) {
            best = i + 1;
            *load_s = load;
            *compute_s = compute;
        }
    }
    return best;
}

void load_est_observe(load_est *e, const uint64_t bytes[KVS_MAX_TIERS], double seconds,
                      load_timing timing)
{
    double expected = 0;
    for (int t = 0; t < KVS_MAX_TIERS; t++)
        expected += (double)bytes[t] / e->tier_bps[t];
    if (expected <= 0 || seconds <= 0)
        return;
    double scale = expected / seconds; /* > 1: faster than expected */
    if ((timing == LOAD_AT_MOST && scale <= 1) || (timing == LOAD_AT_LEAST && scale >= 1))
        return; /* the bound says nothing against the estimate */
    for (int t = 0; t < KVS_MAX_TIERS; t++)
        if (bytes[t])
            e->tier_bps[t] = ema(e->tier_bps[t], e->tier_bps[t] * scale);
}

void load_est_note_compute(load_est *e, uint32_t tokens, double seconds)
{
    if (seconds <= 0 || tokens == 0)
        return;
    e->compute_tps = e->compute_measured ? ema(e->compute_tps, tokens / seconds) : tokens / seconds;
    e->compute_measured = true;
}

double ttft_estimate_s(const load_est *e, uint64_t queued_tokens, uint64_t uncached_tokens,
                       uint64_t decode_running, uint32_t step_tokens, double load_s)
{
    uint64_t prefill = queued_tokens + uncached_tokens;
    uint64_t per_step = step_tokens > decode_running ? step_tokens - decode_running : 1;
    uint64_t steps = prefill ? (prefill + per_step - 1) / per_step : 1;
    return (double)(prefill + steps * decode_running) / e->compute_tps + load_s;
}
