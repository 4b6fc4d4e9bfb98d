/* The router's Prometheus metrics: per-backend requests, in-flight, health and pooled
 * connections (kept in router_backend), retries, routing decisions per logic, and the
 * upstream TTFT histogram. */
#ifndef KVSPILL_ROUTER_METRICS_H
#define KVSPILL_ROUTER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#include "router/router_backends.h"

enum { ROUTER_TTFT_BUCKETS = 13, ROUTER_LOGICS = 4 };

typedef struct router_metrics {
    atomic_ulong retries;
    atomic_ulong decisions[ROUTER_LOGICS];
    atomic_ulong ttft_bucket[ROUTER_TTFT_BUCKETS + 1]; /* the last one is +Inf */
    atomic_ulong ttft_count;
    atomic_ulong ttft_sum_us;
} router_metrics;

void router_metrics_ttft(router_metrics *m, double seconds);
/* The Prometheus text (malloc'd), or NULL when out of memory. */
char *router_metrics_render(const router_metrics *m, router_backends *set, size_t *len);

#endif
