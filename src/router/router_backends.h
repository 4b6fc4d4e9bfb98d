/* The set of upstream replicas: address, health and load of each. Health and counters are
 * atomics, read and written by every request thread and the health checker. */
#ifndef KVSPILL_ROUTER_BACKENDS_H
#define KVSPILL_ROUTER_BACKENDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

enum { ROUTER_MAX_BACKENDS = 64 };

typedef struct router_backend {
    char url[300];        /* as given, without a trailing '/' */
    char host[256];       /* a name or an IP literal, without brackets */
    uint16_t port;
    uint64_t id;          /* hash of url: the backend's identity for rendezvous hashing */
    atomic_bool healthy;
    atomic_int in_flight;
    atomic_ulong requests;
} router_backend;

typedef struct router_backends {
    router_backend b[ROUTER_MAX_BACKENDS];
    size_t n;
} router_backends;

/* "http://host:port" (host a name, an IPv4 literal or a bracketed IPv6 literal; an
 * optional trailing '/'). */
int router_parse_url(const char *url, char *host, size_t host_len, uint16_t *port,
                     model_error *err) MODEL_MUST_CHECK;
/* A comma-separated list of URLs. Every backend starts unhealthy until its /health answers. */
int router_backends_parse(router_backends *set, const char *list, model_error *err) MODEL_MUST_CHECK;

#endif
