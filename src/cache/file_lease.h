/* The eviction lease of a shared cache directory: one process at a time (on any node)
 * evicts. The lease is the file <root>/v1/.evict.lease, created with O_CREAT|O_EXCL and
 * holding "<token> <expiry unix ns>"; the holder renews it while it works, and anyone may
 * take it over once it has expired (its holder was killed). The lease saves duplicate work;
 * it is not needed for safety: two evictors at once only evict a little more than needed,
 * and a holder that finds its lease taken over stops at its next renewal. */
#ifndef KVSPILL_CACHE_FILE_LEASE_H
#define KVSPILL_CACHE_FILE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvspill.h"

typedef struct kvs_lease {
    char path[KVS_PATH_MAX];
    char token[128];     /* owner id, pid and a nonce: unique per acquisition */
    uint64_t ttl_ns;
    uint64_t renew_at_ns; /* renew when the clock passes this (half the ttl) */
} kvs_lease;

/* Tries to take the lease of root's v1 directory. *acquired false (and KVS_OK) when another
 * live holder has it. Errors only for I/O failures other than contention. */
kvs_status kvs_lease_acquire(kvs_lease *lease, const char *root, const char *owner,
                             uint64_t ttl_ns, bool *acquired, kvs_error *err);
/* Extends the lease when due; false when it was lost (taken over): stop working. */
bool kvs_lease_renew(kvs_lease *lease);
/* Gives the lease up (only if still held). */
void kvs_lease_release(kvs_lease *lease);

/* The realtime clock in unix ns (leases are compared across nodes). */
uint64_t kvs_lease_now_ns(void);

#endif
