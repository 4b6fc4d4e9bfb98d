/* The set of upstream replicas: address, health and load of each. Health and counters are
 * atomics, read and written by every request thread and the health checker.
 *
 * Backends come from --backends (fixed) or from --backends-dns names, re-resolved by the
 * health checker (router_dns.h): a DNS backend that leaves the answer leaves the set, and
 * its slot is reused for a new address once no request runs on it. A slot is a pointer so
 * that reuse never rewrites a backend a request thread may still be reading: the new one
 * replaces it and the old one is retired, freed with the set.
 *
 * Each backend has its pool of idle keep-alive connections (upstream_pool.h), closed when
 * the backend leaves the set (out of DNS here, unhealthy in router_mark_down) and reopened
 * when its /health answers 200 again. */
#ifndef KVSPILL_ROUTER_BACKENDS_H
#define KVSPILL_ROUTER_BACKENDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"
#include "router/upstream_pool.h"

enum { ROUTER_MAX_BACKENDS = 64, ROUTER_STATIC = -1 };

typedef struct router_backend {
    char url[300];        /* as given, without a trailing '/' */
    char host[256];       /* a name or an IP literal, without brackets */
    uint16_t port;
    uint64_t id;          /* hash of url: the backend's identity for rendezvous hashing */
    int source;           /* ROUTER_STATIC, or the index of its --backends-dns name */
    atomic_bool present;  /* in its DNS answer (always, for --backends) */
    atomic_bool healthy;  /* present and its /health answers 200 */
    atomic_int in_flight;
    atomic_ulong requests;
    upstream_pool pool;   /* idle keep-alive connections to it */
    unsigned absent_rounds; /* DNS rounds since it left the answer (the checker's own) */
    struct router_backend *retired_next;
} router_backend;

typedef struct router_backends {
    _Atomic(router_backend *) b[ROUTER_MAX_BACKENDS];
    atomic_size_t n;
    router_backend *retired;
    unsigned pool_max; /* each backend's pool: idle connections kept, 0 none */
    int pool_idle_ms;  /* and how long one may stay idle */
} router_backends;

static inline router_backend *router_backend_at(router_backends *set, size_t i)
{
    return atomic_load_explicit(&set->b[i], memory_order_acquire);
}

/* "http://host:port" (host a name, an IPv4 literal or a bracketed IPv6 literal; an
 * optional trailing '/'). */
int router_parse_url(const char *url, char *host, size_t host_len, uint16_t *port,
                     model_error *err) MODEL_MUST_CHECK;
/* A comma-separated list of URLs, added to the set (with set->pool_max and pool_idle_ms
 * as the set's owner left them). Every backend starts unhealthy until its /health
 * answers. */
int router_backends_parse(router_backends *set, const char *list, model_error *err) MODEL_MUST_CHECK;

/* Makes the present backends of DNS source `source` exactly urls[0..n): new ones join
 * (unhealthy until checked), missing ones leave (absent, unhealthy), returning ones are
 * present again. Only the health checker calls it. -1 (with err) when the set is full;
 * what fitted is applied. */
int router_backends_sync(router_backends *set, int source, const char *const *urls, size_t n,
                         model_error *err) MODEL_MUST_CHECK;

/* Frees every backend, retired ones too, closing their pooled connections. */
void router_backends_free(router_backends *set);

#endif
