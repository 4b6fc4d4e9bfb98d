/* --backends-dns NAME:PORT: the replicas behind a Kubernetes headless Service, found by
 * resolving its name (A and AAAA records, one per ready pod) with the system resolver, so
 * the router needs no access to the Kubernetes API. The health checker re-resolves every
 * --dns-interval-ms and merges the answer into the backend set (router_backends_sync). */
#ifndef KVSPILL_ROUTER_DNS_H
#define KVSPILL_ROUTER_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

enum { ROUTER_DNS_MAX_ADDRS = 64, ROUTER_URL_MAX = 300 };

typedef struct router_dns_answer {
    char urls[ROUTER_DNS_MAX_ADDRS][ROUTER_URL_MAX]; /* "http://10.1.2.3:8000", "http://[fd00::3]:8000" */
    size_t n;
} router_dns_answer;

/* Splits "NAME:PORT" (NAME a DNS name or an IPv4 literal, or "[v6]:PORT"). */
int router_dns_parse(const char *spec, char *name, size_t name_len, uint16_t *port,
                     model_error *err) MODEL_MUST_CHECK;

/* Resolves name to its addresses as backend URLs, sorted, without duplicates. A name with
 * no address (a headless Service with no ready pod answers NXDOMAIN) is an error naming
 * it and the resolver's reason; the caller keeps its set. */
int router_dns_resolve(const char *name, uint16_t port, router_dns_answer *out,
                       model_error *err) MODEL_MUST_CHECK;

#endif
