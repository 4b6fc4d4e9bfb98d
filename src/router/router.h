/* kvspill router: an OpenAI-compatible front for several `kvspill serve` replicas.
 * Requests are forwarded to one healthy backend chosen by the routing logic; the answer,
 * streamed or whole, comes back as the backend gave it. */
#ifndef KVSPILL_ROUTER_ROUTER_H
#define KVSPILL_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

typedef enum router_logic {
    ROUTER_ROUNDROBIN,
    ROUTER_SESSION,
    ROUTER_PREFIXAWARE,
    ROUTER_KVAWARE,
} router_logic;

enum { ROUTER_MAX_DNS_NAMES = 8 };

typedef struct router_config {
    const char *host;
    uint16_t port;
    const char *backends;         /* comma-separated http://host:port, or NULL */
    const char *backends_dns[ROUTER_MAX_DNS_NAMES]; /* NAME:PORT, re-resolved (router_dns.h) */
    size_t n_backends_dns;
    int dns_interval_ms;
    router_logic logic;
    const char *session_key;      /* header or top-level body field (session logic) */
    unsigned prefix_block_chars;
    unsigned prefix_blocks;
    double max_load_ratio;
    int kvaware_timeout_ms;       /* kvaware: the longest wait for a replica's answer */
    int connect_timeout_ms;
    int first_byte_timeout_ms;
    unsigned upstream_pool;       /* idle keep-alive connections kept per backend, 0: none */
    int upstream_idle_ms;         /* how long one stays idle: below serve's --connection-timeout */
    int health_interval_ms;
    const char *api_key;          /* NULL: no key checked */
    const char *model_path;       /* --model: prefixaware on chunk keys (router_keys.h), or NULL */
    const char *chat_template;    /* --chat-template, as the replicas take it, or NULL */
} router_config;

typedef struct router router;

/* Parses the backends (--backends, --backends-dns: at least one of them), starts the
 * health checker and the listener. */
int router_start(const router_config *cfg, router **out, model_error *err) MODEL_MUST_CHECK;
/* Stops the listener and the health checker, frees. */
void router_stop(router *r);
const char *router_logic_name(router_logic l);
/* "roundrobin", "session", "prefixaware" or "kvaware". */
int router_logic_parse(const char *s, router_logic *out);

#endif
