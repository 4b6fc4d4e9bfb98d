/* kvaware routing: ask each healthy replica (POST /kvspill/lookup, with the request's own
 * body and key) how many of the prompt's tokens its offload tiers hold and how loaded it
 * is, and pick the lowest cost, as Dynamo's KV router scores workers:
 *
 *   cost = weight x chunks still to prefill + requests running and waiting
 *
 * where the chunks still to prefill are the prompt's chunks less those in host RAM, less
 * half of those on a slower tier (loading them is cheaper than computing, dearer than RAM).
 * Ties (a prompt no replica holds) fall to rendezvous hashing of the prompt's prefix, so a
 * new conversation still lands where its next turn will look. Probes run in parallel, one
 * thread per replica, each bounded by --kvaware-timeout-ms; a replica that does not answer
 * in time is scored with no cached tokens and one request more than the router's own count
 * of its requests. */
#ifndef KVSPILL_ROUTER_KVAWARE_H
#define KVSPILL_ROUTER_KVAWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a replica said: tokens in host RAM, tokens on slower tiers, load. */
typedef struct kvaware_probe {
    bool answered;
    uint64_t prompt_tokens, chunk_tokens, ram_tokens, other_tokens, running, waiting;
} kvaware_probe;

/* Parses a /kvspill/lookup answer; -1 when it is not one. */
int kvaware_parse_probe(const char *json, size_t len, kvaware_probe *out);

/* The eligible backend of least cost (in_flight: the router's own count, used when a probe
 * failed or reports less); ties go to rendezvous(key). -1 when none is eligible. */
int kvaware_pick(const kvaware_probe *probes, const int *in_flight, const uint64_t *ids,
                 const bool *eligible, size_t n, double weight, uint64_t key);

#endif
