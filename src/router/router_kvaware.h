/* kvaware routing: ask each healthy replica (POST /kvspill/lookup, with the request's own
 * body and key) what the prompt would cost there, and pick the least. The cost is a time,
 * the replica's own estimate of the prompt's time to first token (engine.h,
 * engine_prefix_lookup):
 *
 *   estimated_ttft_s = (prompt tokens queued for prefill + this prompt's tokens it does
 *                       not hold, in its paged KV cache or a tier + a token of each
 *                       decoding sequence per step that takes) / its measured prefill rate
 *                      + this prompt's bytes on tiers slower than RAM / their load rates
 *
 * plus the requests the router sent it that its report does not count yet (in flight but
 * neither running nor waiting there: on their way), each at this prompt's own prefill time
 * there. So a replica holding the prefix wins while its queue is shorter than what the
 * prefix saves, and an idle replica wins once the queue outweighs it. Ties (within a
 * millisecond: a cold prompt at replicas equally idle) fall to rendezvous hashing of the
 * prompt's prefix, so a new conversation still lands where its next turn will look.
 * Probes run in parallel, one thread per replica, each bounded by --kvaware-timeout-ms; a
 * replica that does not answer in time (or answers without an estimate) costs the worst
 * answered cost plus, for each of its requests and one more, the longest answered prefill
 * time of this whole prompt. With no answer at all, the router's own request counts. */
#ifndef KVSPILL_ROUTER_KVAWARE_H
#define KVSPILL_ROUTER_KVAWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a replica said: tokens still in its paged KV cache (resident), in host RAM, on slower
 * tiers, load, and its estimate (has_estimate: estimated_ttft_s and a positive prefill_tps
 * were in the answer). */
typedef struct kvaware_probe {
    bool answered;
    uint64_t prompt_tokens, resident_tokens, ram_tokens, other_tokens, running, waiting;
    bool has_estimate;
    double estimated_ttft_s, prefill_tps;
} kvaware_probe;

/* Parses a /kvspill/lookup answer; -1 when it is not one. */
int kvaware_parse_probe(const char *json, size_t len, kvaware_probe *out);

/* The eligible backend of least estimated time to first token (in_flight: the router's
 * own count of requests on each); ties go to rendezvous(key). -1 when none is eligible. */
int kvaware_pick(const kvaware_probe *probes, const int *in_flight, const uint64_t *ids,
                 const bool *eligible, size_t n, uint64_t key);

#endif
