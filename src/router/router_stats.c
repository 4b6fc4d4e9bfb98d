/* GET /v1/kvspill/stats on the router, for the dashboard's replica rows: each backend's
 * health, requests, in-flight count and share of the requests routed, with the stats of
 * each healthy replica (its own /v1/kvspill/stats, asked of all at once) or why they are
 * missing. The router keeps no history: the page computes rates from successive polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_fanout.h"
#include "router/router_internal.h"

static json_t *decisions_json(const router_metrics *m)
{
    json_t *o = json_object();
    for (int l = 0; o && l < ROUTER_LOGICS; l++)
        if (json_object_set_new(o, router_logic_name((router_logic)l),
                                json_integer((json_int_t)atomic_load(&m->decisions[l])))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* The replica's stats object, or NULL with why set. */
static json_t *replica_stats(const router_answer *a, char *why, size_t why_len)
{
    if (!a->answered) {
        snprintf(why, why_len, "%s", a->err.msg);
        return NULL;
    }
    if (a->status != 200) {
        snprintf(why, why_len, "/v1/kvspill/stats answered %u", a->status);
        return NULL;
    }
    json_t *st = json_loadb(a->body, a->len, 0, NULL);
    if (!json_is_object(st)) {
        json_decref(st);
        snprintf(why, why_len, "/v1/kvspill/stats answer is not a JSON object");
    }
    return json_is_object(st) ? st : NULL;
}

static json_t *backend_json(router_backend *b, const router_answer *a, unsigned long total)
{
    unsigned long requests = atomic_load(&b->requests);
    bool healthy = atomic_load(&b->healthy);
    json_t *o = json_pack("{s:s, s:b, s:b, s:i, s:I, s:f}", "url", b->url, "healthy", healthy,
                          "present", atomic_load(&b->present), "in_flight",
                          atomic_load(&b->in_flight), "requests", (json_int_t)requests, "share",
                          total ? (double)requests / (double)total : 0.0);
    if (!o || !healthy)
        return o;
    char why[MODEL_ERROR_MAX];
    json_t *st = replica_stats(a, why, sizeof why);
    if (st ? json_object_set_new(o, "stats", st) : json_object_set_new(o, "error", json_string(why))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void router_stats(router *r, const http_request *req, http_response *resp)
{
    resp->status = 500;
    size_t n = atomic_load(&r->set.n);
    bool ask[ROUTER_MAX_BACKENDS];
    unsigned long total = 0;
    for (size_t i = 0; i < n; i++) {
        router_backend *b = router_backend_at(&r->set, i);
        ask[i] = atomic_load(&b->healthy);
        total += atomic_load(&b->requests);
    }
    upstream_request rq = {.method = "GET", .path = "/v1/kvspill/stats",
                           .authorization = req->authorization,
                           .connect_timeout_ms = r->cfg.connect_timeout_ms,
                           .first_byte_timeout_ms = r->cfg.connect_timeout_ms};
    router_answer answers[ROUTER_MAX_BACKENDS];
    router_ask_all(&r->set, &rq, ask, n, 1u << 20, answers);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *list = json_array();
    json_t *root = json_pack("{s:b, s:f, s:s, s:I, s:o, s:o}", "router", 1, "time",
                             (double)now.tv_sec + now.tv_nsec * 1e-9, "routing_logic",
                             router_logic_name(r->cfg.logic), "retries",
                             (json_int_t)atomic_load(&r->metrics.retries), "decisions",
                             decisions_json(&r->metrics), "backends", list);
    for (size_t i = 0; root && i < n; i++)
        if (json_array_append_new(list, backend_json(router_backend_at(&r->set, i), &answers[i],
                                                     total))) {
            json_decref(root);
            root = NULL;
        }
    router_answers_free(answers, n);
    resp->body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (resp->body) {
        resp->status = 200;
        resp->body_len = strlen(resp->body);
        resp->content_type = "application/json";
    }
}
