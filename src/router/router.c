/* Starting and stopping the router. */
#include "router/router.h"

#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"

static const char *const logic_names[] = {"roundrobin", "session", "prefixaware", "kvaware"};

const char *router_logic_name(router_logic l)
{
    return logic_names[l];
}

int router_logic_parse(const char *s, router_logic *out)
{
    for (int i = 0; i < ROUTER_LOGICS; i++)
        if (!strcmp(s, logic_names[i])) {
            *out = (router_logic)i;
            return 0;
        }
    return -1;
}

int router_start(const router_config *cfg, router **out, model_error *err)
{
    if (cfg->logic == ROUTER_SESSION && (!cfg->session_key || !*cfg->session_key))
        return model_fail(err, "--routing-logic session needs --session-key NAME");
    if (!cfg->prefix_block_chars || !cfg->prefix_blocks)
        return model_fail(err, "--prefix-block-chars and --prefix-blocks must be at least 1");
    router *r = calloc(1, sizeof *r);
    if (!r)
        return model_fail(err, "router: out of memory");
    r->cfg = *cfg;
    r->set.pool_max = cfg->upstream_pool;
    r->set.pool_idle_ms = cfg->upstream_idle_ms;
    pthread_mutex_init(&r->stop_mu, NULL);
    if (!cfg->backends && !cfg->n_backends_dns) {
        free(r);
        return model_fail(err, "no backends: give --backends or --backends-dns");
    }
    if (cfg->model_path && router_keys_load(&r->keys, cfg->model_path, cfg->chat_template, err)) {
        pthread_mutex_destroy(&r->stop_mu);
        free(r);
        return -1;
    }
    int rc = cfg->backends ? router_backends_parse(&r->set, cfg->backends, err) : 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_backends_dns; i++)
        rc = router_dns_parse(cfg->backends_dns[i], r->dns[i].name, sizeof r->dns[i].name,
                              &r->dns[i].port, err);
    r->n_dns = cfg->n_backends_dns;
    if (rc || router_health_start(r, err)) {
        router_backends_free(&r->set);
        router_keys_free(&r->keys);
        pthread_mutex_destroy(&r->stop_mu);
        free(r);
        return -1;
    }
    http_options ho = {.host = cfg->host, .port = cfg->port, .max_body = 64u << 20,
                       .max_connections = 1024};
    if (http_server_start(&ho, router_handle, r, &r->http, err)) {
        router_stop(r);
        return -1;
    }
    *out = r;
    return 0;
}

void router_stop(router *r)
{
    if (!r)
        return;
    http_server_stop(r->http);
    router_health_stop(r);
    router_backends_free(&r->set);
    router_keys_free(&r->keys);
    pthread_mutex_destroy(&r->stop_mu);
    free(r);
}
