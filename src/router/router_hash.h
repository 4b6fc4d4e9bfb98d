/* The router's hashing: a 64-bit hash of bytes (XXH3, seeded), the prefix chain over
 * fixed-size blocks, and rendezvous (highest random weight) choice among backends. */
#ifndef KVSPILL_ROUTER_HASH_H
#define KVSPILL_ROUTER_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTER_HASH_SEED 0x6b7673706c6c72ULL

uint64_t router_hash_bytes(uint64_t seed, const void *p, size_t n);
/* h_0 = seed, h_i = hash(h_{i-1}, block_i) over the first min(blocks, len / block) full
 * blocks of block chars; a text shorter than one block hashes whole. */
uint64_t router_prefix_hash(const char *text, size_t len, size_t block, unsigned blocks);
/* The index of eligible[i] maximising the weight of (key, ids[i]), or -1 when none is
 * eligible. Removing a backend moves only the keys that backend had. */
int router_rendezvous(uint64_t key, const uint64_t *ids, const bool *eligible, size_t n);
/* Marks ineligible the healthy backends whose in-flight count exceeds ratio x the mean
 * in-flight count of the healthy backends + 1. eligible[] holds health on input. */
void router_load_cap(const int *in_flight, bool *eligible, size_t n, double ratio);

#endif
