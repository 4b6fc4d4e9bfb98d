/* The router's shared state, for its own files only. */
#ifndef KVSPILL_ROUTER_INTERNAL_H
#define KVSPILL_ROUTER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "router/router.h"
#include "router/router_backends.h"
#include "router/router_dns.h"
#include "router/router_keys.h"
#include "router/router_metrics.h"
#include "server/http.h"

typedef struct router_dns_name {
    char name[256];
    uint16_t port;
} router_dns_name;

struct router {
    router_config cfg;
    router_backends set;
    router_dns_name dns[ROUTER_MAX_DNS_NAMES];
    size_t n_dns;
    uint64_t dns_due_ms; /* the health checker's next re-resolution */
    router_metrics metrics;
    router_keys keys;     /* loaded with --model (keys.tk set), else the character hash */
    bool keying_failed;   /* a replica's keying answer was refused: said once */
    atomic_uint rr_next;
    http_server *http;
    pthread_t health_thread;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping, health_started;
};

/* Why a backend was picked: prefixaware's key (chunks 0 when the character hash was used). */
typedef struct router_reason {
    kvs_key key;
    size_t chunks;
} router_reason;

/* Picks a healthy backend not in tried[] for req (body: its parsed JSON, or NULL); -1 when
 * none is left. Counts the decision under the logic actually used; why (may be NULL) gets
 * the key it was routed on. */
int router_choose(router *r, const http_request *req, const json_t *body, bool chat,
                  const bool *tried, router_reason *why);
/* Learns from backend b how it names its chunks, once (the health checker's thread). */
void router_learn_keying(router *r, router_backend *b);
/* Marks a backend down at once (a connect failure or a 5xx): the health checker brings it
 * back when its /health answers 200. */
void router_mark_down(router *r, router_backend *b, const char *why);
/* Re-resolves the --backends-dns names when due and merges the answers into the set
 * (the health checker's thread only). */
void router_dns_refresh(router *r);
int router_health_start(router *r, model_error *err) MODEL_MUST_CHECK;
void router_health_stop(router *r);
/* The listener's handler: the router's own endpoints and the proxied ones. */
void router_handle(void *user, const http_request *req, http_response *resp);
/* GET /v1/models: the union of the healthy backends' model lists. */
void router_models(router *r, const http_request *req, http_response *resp);
/* GET /v1/kvspill/stats: the backends' rows for the dashboard (router_stats.c). */
void router_stats(router *r, const http_request *req, http_response *resp);

#endif
