/* Prometheus text for the router. */
#include "router/router_metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "router/router.h"

static const double ttft_le[ROUTER_TTFT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1, 2.5, 5, 10, 30, 60};

void router_metrics_ttft(router_metrics *m, double seconds)
{
    size_t i = 0;
    while (i < ROUTER_TTFT_BUCKETS && seconds > ttft_le[i])
        i++;
    atomic_fetch_add(&m->ttft_bucket[i], 1);
    atomic_fetch_add(&m->ttft_count, 1);
    atomic_fetch_add(&m->ttft_sum_us, (unsigned long)(seconds * 1e6));
}

typedef struct out {
    char *p;
    size_t len, cap;
    bool oom;
} out;

__attribute__((format(printf, 2, 3))) static void put(out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = o->oom ? -1 : vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *np = realloc(o->p, o->cap * 2 + (size_t)n);
        if (!np) {
            o->oom = true;
            return;
        }
        o->p = np;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

char *router_metrics_render(const router_metrics *m, router_backends *set, size_t *len)
{
    out o = {.p = malloc(4096), .cap = 4096};
    if (!o.p)
        return NULL;
    o.p[0] = 0;
    put(&o, "# HELP kvspill_router_requests_total Requests forwarded to each backend.\n"
            "# TYPE kvspill_router_requests_total counter\n");
    for (size_t i = 0; i < atomic_load(&set->n); i++)
        put(&o, "kvspill_router_requests_total{backend=\"%s\"} %lu\n", router_backend_at(set, i)->url,
            atomic_load(&router_backend_at(set, i)->requests));
    put(&o, "# HELP kvspill_router_backend_in_flight Requests running on each backend.\n"
            "# TYPE kvspill_router_backend_in_flight gauge\n");
    for (size_t i = 0; i < atomic_load(&set->n); i++)
        put(&o, "kvspill_router_backend_in_flight{backend=\"%s\"} %d\n", router_backend_at(set, i)->url,
            atomic_load(&router_backend_at(set, i)->in_flight));
    put(&o, "# HELP kvspill_router_backend_healthy 1 when the backend is in the set.\n"
            "# TYPE kvspill_router_backend_healthy gauge\n");
    for (size_t i = 0; i < atomic_load(&set->n); i++)
        put(&o, "kvspill_router_backend_healthy{backend=\"%s\"} %d\n", router_backend_at(set, i)->url,
            atomic_load(&router_backend_at(set, i)->healthy) ? 1 : 0);
    put(&o, "# HELP kvspill_router_upstream_idle Idle keep-alive connections pooled to each "
            "backend.\n# TYPE kvspill_router_upstream_idle gauge\n");
    for (size_t i = 0; i < atomic_load(&set->n); i++)
        put(&o, "kvspill_router_upstream_idle{backend=\"%s\"} %u\n", router_backend_at(set, i)->url,
            upstream_pool_idle(&router_backend_at(set, i)->pool));
    static const struct {
        const char *name, *help;
        size_t offset;
    } pool_counters[] = {
        {"kvspill_router_upstream_connects_total",
         "New connections opened to each backend for requests.",
         offsetof(upstream_pool, connects)},
        {"kvspill_router_upstream_reused_total",
         "Requests sent on a pooled keep-alive connection.", offsetof(upstream_pool, reuses)},
        {"kvspill_router_upstream_stale_retries_total",
         "Pooled connections found closed by the backend, the request sent again on a new one.",
         offsetof(upstream_pool, stale_retries)},
    };
    for (size_t k = 0; k < sizeof pool_counters / sizeof pool_counters[0]; k++) {
        put(&o, "# HELP %s %s\n# TYPE %s counter\n", pool_counters[k].name,
            pool_counters[k].help, pool_counters[k].name);
        for (size_t i = 0; i < atomic_load(&set->n); i++) {
            router_backend *b = router_backend_at(set, i);
            const atomic_ulong *v =
                (const atomic_ulong *)((const char *)&b->pool + pool_counters[k].offset);
            put(&o, "%s{backend=\"%s\"} %lu\n", pool_counters[k].name, b->url,
                atomic_load(v));
        }
    }
    put(&o, "# HELP kvspill_router_retries_total Requests retried on another backend.\n"
            "# TYPE kvspill_router_retries_total counter\n"
            "kvspill_router_retries_total %lu\n", atomic_load(&m->retries));
    put(&o, "# HELP kvspill_router_routing_decisions_total Backend choices per logic.\n"
            "# TYPE kvspill_router_routing_decisions_total counter\n");
    for (int l = 0; l < ROUTER_LOGICS; l++)
        put(&o, "kvspill_router_routing_decisions_total{logic=\"%s\"} %lu\n",
            router_logic_name((router_logic)l), atomic_load(&m->decisions[l]));
    put(&o, "# HELP kvspill_router_upstream_ttft_seconds Time to the first response byte.\n"
            "# TYPE kvspill_router_upstream_ttft_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t i = 0; i < ROUTER_TTFT_BUCKETS; i++) {
        cum += atomic_load(&m->ttft_bucket[i]);
        put(&o, "kvspill_router_upstream_ttft_seconds_bucket{le=\"%g\"} %lu\n", ttft_le[i], cum);
    }
    cum += atomic_load(&m->ttft_bucket[ROUTER_TTFT_BUCKETS]);
    put(&o, "kvspill_router_upstream_ttft_seconds_bucket{le=\"+Inf\"} %lu\n"
            "kvspill_router_upstream_ttft_seconds_sum %.6f\n"
            "kvspill_router_upstream_ttft_seconds_count %lu\n",
        cum, (double)atomic_load(&m->ttft_sum_us) / 1e6, atomic_load(&m->ttft_count));
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
