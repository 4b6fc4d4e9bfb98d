#include "router/router_kvaware.h"

#include <jansson.h>
#include <string.h>

#include "router/router_backends.h"
#include "router/router_hash.h"

/* Estimates closer than this are a tie: below what a lookup's own round trip can tell. */
#define KVAWARE_TIE_S 1e-3

static uint64_t positive(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t field(json_t *o, const char *key)
{
    return positive(json_object_get(o, key));
}

int kvaware_parse_probe(const char *json, size_t len, kvaware_probe *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *tiers = root ? json_object_get(root, "cached_tokens") : NULL;
    if (!json_is_object(tiers) || !json_is_integer(json_object_get(root, "prompt_tokens"))) {
        json_decref(root);
        return -1;
    }
    out->prompt_tokens = field(root, "prompt_tokens");
    out->running = field(root, "running");
    out->waiting = field(root, "waiting");
    out->resident_tokens = field(root, "resident_tokens");
    const char *name;
    json_t *v;
    json_object_foreach(tiers, name, v) {
        if (!strcmp(name, "mem"))
            out->ram_tokens += positive(v);
        else
            out->other_tokens += positive(v);
    }
    json_t *est = json_object_get(root, "estimated_ttft_s");
    json_t *tps = json_object_get(root, "prefill_tokens_per_s");
    if (json_is_number(est) && json_is_number(tps) && json_number_value(est) >= 0 &&
        json_number_value(tps) > 0) {
        out->has_estimate = true;
        out->estimated_ttft_s = json_number_value(est);
        out->prefill_tps = json_number_value(tps);
    }
    json_decref(root);
    out->answered = true;
    return 0;
}

/* Seconds: the replica's estimate, plus this prompt's prefill there for each request the
 * router sent it that its report does not count yet. */
static double answered_cost(const kvaware_probe *p, int in_flight)
{
    double unseen = (double)in_flight - (double)(p->running + p->waiting);
    if (unseen <= 0)
        return p->estimated_ttft_s;
    uint64_t held = p->ram_tokens + p->other_tokens;
    if (p->resident_tokens > held)
        held = p->resident_tokens;
    double uncached = p->prompt_tokens > held ? (double)(p->prompt_tokens - held) : 0;
    return p->estimated_ttft_s + unseen * uncached / p->prefill_tps;
}

int kvaware_pick(const kvaware_probe *probes, const int *in_flight, const uint64_t *ids,
                 const bool *eligible, size_t n, uint64_t key)
{
    if (n > ROUTER_MAX_BACKENDS)
        n = ROUTER_MAX_BACKENDS;
    double cost[ROUTER_MAX_BACKENDS];
    double worst = 0, prompt_s = 0;
    bool any_answer = false;
    for (size_t i = 0; i < n; i++) {
        const kvaware_probe *p = &probes[i];
        if (!eligible[i] || !p->answered || !p->has_estimate)
            continue;
        cost[i] = answered_cost(p, in_flight[i]);
        if (!any_answer || cost[i] > worst)
            worst = cost[i];
        if ((double)p->prompt_tokens / p->prefill_tps > prompt_s)
            prompt_s = (double)p->prompt_tokens / p->prefill_tps;
        any_answer = true;
    }
    if (!any_answer)
        prompt_s = 1; /* nothing to go by but the router's own counts */
    double best = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!eligible[i])
            continue;
        if (!probes[i].answered || !probes[i].has_estimate)
            cost[i] = worst + ((in_flight[i] > 0 ? in_flight[i] : 0) + 1) * prompt_s;
        if (!any || cost[i] < best)
            best = cost[i];
        any = true;
    }
    if (!any)
        return -1;
    bool tied[ROUTER_MAX_BACKENDS] = {0};
    for (size_t i = 0; i < n; i++)
        tied[i] = eligible[i] && cost[i] <= best + KVAWARE_TIE_S;
    return router_rendezvous(key, ids, tied, n);
}
