#include "router/router_kvaware.h"

#include <jansson.h>
#include <string.h>

#include "router/router_backends.h"
#include "router/router_hash.h"

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
    out->chunk_tokens = field(root, "chunk_tokens");
    out->running = field(root, "running");
    out->waiting = field(root, "waiting");
    const char *name;
    json_t *v;
    json_object_foreach(tiers, name, v) {
        if (!strcmp(name, "mem"))
            out->ram_tokens += positive(v);
        else
            out->other_tokens += positive(v);
    }
    json_decref(root);
    out->answered = true;
    return 0;
}

/* An unanswered replica holds nothing: all of the prompt's chunks, as the others counted
 * them (all_chunks), are still to prefill there; and one request more, since a replica too
 * slow to answer a lookup is likely busy (a cold prompt then goes to one that answered). */
static double cost_of(const kvaware_probe *p, int in_flight, double weight, double all_chunks)
{
    double load = (double)in_flight;
    if (p->answered && (double)(p->running + p->waiting) > load)
        load = (double)(p->running + p->waiting);
    if (!p->answered || !p->chunk_tokens)
        return weight * all_chunks + load + 1;
    double chunks = (double)p->prompt_tokens / (double)p->chunk_tokens;
    double held = ((double)p->ram_tokens + 0.5 * (double)p->other_tokens) / (double)p->chunk_tokens;
    return weight * (chunks - held) + load;
}

int kvaware_pick(const kvaware_probe *probes, const int *in_flight, const uint64_t *ids,
                 const bool *eligible, size_t n, double weight, uint64_t key)
{
    double best = 0, all_chunks = 0;
    bool any = false;
    double cost[ROUTER_MAX_BACKENDS];
    for (size_t i = 0; i < n && i < ROUTER_MAX_BACKENDS; i++)
        if (eligible[i] && probes[i].answered && probes[i].chunk_tokens &&
            (double)probes[i].prompt_tokens / (double)probes[i].chunk_tokens > all_chunks)
            all_chunks = (double)probes[i].prompt_tokens / (double)probes[i].chunk_tokens;
    for (size_t i = 0; i < n && i < ROUTER_MAX_BACKENDS; i++) {
        if (!eligible[i])
            continue;
        cost[i] = cost_of(&probes[i], in_flight[i], weight, all_chunks);
        if (!any || cost[i] < best)
            best = cost[i];
        any = true;
    }
    if (!any)
        return -1;
    bool tied[ROUTER_MAX_BACKENDS] = {0};
    for (size_t i = 0; i < n && i < ROUTER_MAX_BACKENDS; i++)
        tied[i] = eligible[i] && cost[i] <= best + 1e-9;
    return router_rendezvous(key, ids, tied, n);
}
