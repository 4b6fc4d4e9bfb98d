/* The router's request handler: its own endpoints (/health, /metrics, /v1/models,
 * /v1/kvspill/stats, the web pages) and the forwarded ones, on the backend's pooled
 * keep-alive connections (upstream_pool.h). A request whose backend refuses it or dies
 * before the first byte is retried once on another healthy backend; a streamed answer is
 * passed through as each chunk arrives, and one that breaks ends with an OpenAI-shaped SSE
 * error event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"
#include "router/upstream_client.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/web.h"

enum { MAX_RESPONSE = 256u << 20 };

static const char *const proxied[] = {"/v1/completions", "/v1/chat/completions", "/tokenize",
                                      "/detokenize", "/v1/embeddings"};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void set_error(http_response *resp, unsigned status, const char *type,
                      const char *code, const char *msg)
{
    api_error e;
    (void)api_fail(&e, status, NULL, code, "%s", msg);
    snprintf(e.type, sizeof e.type, "%s", type);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = api_error_json(&e, &resp->body_len);
    if (!resp->body)
        resp->status = 500;
}

typedef struct proxy_stream {
    router *r;
    router_backend *b;
    upstream_conn *c;
    int timeout_ms;
    char last[2];      /* the last two bytes forwarded, to end a cut event cleanly */
    char *tail;        /* the error event and [DONE] after a break, malloc'd */
    size_t tail_len, tail_pos;
    bool broken;
} proxy_stream;

/* The SSE events that end a broken stream: the error, then [DONE]. */
static int make_tail(proxy_stream *s, const char *why)
{
    api_error e;
    (void)api_fail(&e, 502, NULL, "upstream_stream_broken", "backend %.300s: the stream broke: %.180s",
                   s->b->url, why);
    snprintf(e.type, sizeof e.type, "server_error");
    size_t jl;
    char *json = api_error_json(&e, &jl);
    if (!json)
        return -1;
    bool at_boundary = s->last[0] == '\n' && s->last[1] == '\n';
    size_t cap = jl + 64;
    s->tail = malloc(cap);
    if (s->tail)
        s->tail_len = (size_t)snprintf(s->tail, cap, "%sdata: %s\n\ndata: [DONE]\n\n",
                                       at_boundary ? "" : "\n\n", json);
    free(json);
    return s->tail ? 0 : -1;
}

static ssize_t stream_read(void *ctx, char *buf, size_t max)
{
    proxy_stream *s = ctx;
    if (!s->broken) {
        model_error err;
        ssize_t n = upstream_read(s->c, buf, max, s->timeout_ms, &err);
        if (n > 0) {
            if (n >= 2) {
                s->last[0] = buf[n - 2];
                s->last[1] = buf[n - 1];
            } else {
                s->last[0] = s->last[1];
                s->last[1] = buf[0];
            }
            return n;
        }
        if (n == 0)
            return 0;
        s->broken = true;
        router_mark_down(s->r, s->b, err.msg);
        fprintf(stderr, "kvspill router: stream from %s broke: %s\n", s->b->url, err.msg);
        if (make_tail(s, err.msg))
            return -1;
    }
    size_t n = s->tail_len - s->tail_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->tail + s->tail_pos, n);
    s->tail_pos += n;
    return (ssize_t)n;
}

static void stream_done(void *ctx)
{
    proxy_stream *s = ctx;
    upstream_pool_put(&s->b->pool, s->c); /* kept only when the stream was read to its end */
    atomic_fetch_sub(&s->b->in_flight, 1);
    free(s->tail);
    free(s);
}

/* Hands the open upstream answer to the client: whole, or as a stream. Takes c. */
static void pass_back(router *r, router_backend *b, upstream_conn *c, http_response *resp)
{
    const char *ct = upstream_content_type(c);
    resp->status = upstream_status(c);
    if (!strncmp(ct, "text/event-stream", 17)) {
        proxy_stream *s = calloc(1, sizeof *s);
        if (!s) {
            upstream_close(c);
            atomic_fetch_sub(&b->in_flight, 1);
            set_error(resp, 500, "server_error", NULL, "router: out of memory");
            return;
        }
        *s = (proxy_stream){.r = r, .b = b, .c = c, .timeout_ms = r->cfg.first_byte_timeout_ms,
                            .last = {'\n', '\n'}};
        resp->content_type = "text/event-stream";
        resp->stream = stream_read;
        resp->stream_ctx = s;
        resp->stream_free = stream_done;
        return;
    }
    const char *type = *ct ? (strstr(ct, "json") ? "application/json" : "text/plain") : NULL;
    model_error err;
    char *body;
    size_t len;
    int rc = upstream_read_all(c, MAX_RESPONSE, r->cfg.first_byte_timeout_ms, &body, &len, &err);
    upstream_pool_put(&b->pool, c);
    atomic_fetch_sub(&b->in_flight, 1);
    if (rc) {
        char msg[sizeof b->url + sizeof err.msg + 16];
        snprintf(msg, sizeof msg, "backend %s: %s", b->url, err.msg);
        router_mark_down(r, b, err.msg);
        set_error(resp, 502, "server_error", "upstream_error", msg);
        return;
    }
    resp->content_type = type;
    resp->body = body;
    resp->body_len = len;
}

static void proxy(router *r, const http_request *req, http_response *resp, bool chat)
{
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL); /* NULL: the backend says why */
    bool tried[ROUTER_MAX_BACKENDS] = {0};
    char last_err[600] = "";
    for (int attempt = 0; attempt < 2; attempt++) {
        int i = router_choose(r, req, body, chat, tried, NULL);
        if (i < 0)
            break;
        if (attempt)
            atomic_fetch_add(&r->metrics.retries, 1);
        tried[i] = true;
        router_backend *b = router_backend_at(&r->set, (size_t)i);
        atomic_fetch_add(&b->in_flight, 1);
        atomic_fetch_add(&b->requests, 1);
        upstream_request rq = {.method = "POST", .path = req->path,
                               .authorization = req->authorization, .body = req->body,
                               .body_len = req->body_len,
                               .connect_timeout_ms = r->cfg.connect_timeout_ms,
                               .first_byte_timeout_ms = r->cfg.first_byte_timeout_ms};
        upstream_conn *c;
        upstream_stage stage;
        model_error err;
        double t0 = now_s();
        if (upstream_pool_open(&b->pool, b->host, b->port, &rq, &c, &stage, &err)) {
            atomic_fetch_sub(&b->in_flight, 1);
            router_mark_down(r, b, err.msg);
            snprintf(last_err, sizeof last_err, "%s", err.msg);
            continue;
        }
        router_metrics_ttft(&r->metrics, now_s() - t0);
        if (upstream_status(c) >= 500) {
            char why[64];
            snprintf(why, sizeof why, "answered %u", upstream_status(c));
            router_mark_down(r, b, why);
        }
        json_decref(body);
        pass_back(r, b, c, resp);
        return;
    }
    json_decref(body);
    if (*last_err)
        set_error(resp, 502, "server_error", "upstream_error", last_err);
    else
        set_error(resp, 503, "server_error", "no_healthy_backend",
                  "router: no healthy backend to send the request to");
}

/* POST /kvspill/route/v1/(chat/)completions: where the request would go and the key it
 * would be routed on, nothing sent (for operators, and for tests comparing the router's
 * chunk keys with the replicas' own). */
static void explain(router *r, const http_request *req, http_response *resp, bool chat)
{
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    bool tried[ROUTER_MAX_BACKENDS] = {0};
    router_reason why;
    int i = router_choose(r, req, body, chat, tried, &why);
    json_decref(body);
    if (i < 0) {
        set_error(resp, 503, "server_error", "no_healthy_backend",
                  "router: no healthy backend to send the request to");
        return;
    }
    char hex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(&why.key, hex);
    json_t *o = json_pack("{s:s, s:s, s:o, s:I}", "backend",
                          router_backend_at(&r->set, (size_t)i)->url,
                          "routing_logic", router_logic_name(r->cfg.logic), "key",
                          why.chunks ? json_string(hex) : json_null(), "key_chunks",
                          (json_int_t)why.chunks);
    resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    resp->status = resp->body ? 200 : 500;
    resp->content_type = "application/json";
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

static bool any_healthy(router *r)
{
    for (size_t i = 0; i < atomic_load(&r->set.n); i++)
        if (atomic_load(&router_backend_at(&r->set, i)->healthy))
            return true;
    return false;
}

void router_handle(void *user, const http_request *req, http_response *resp)
{
    router *r = user;
    bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
    if (get && !strcmp(req->path, "/health")) {
        if (!any_healthy(r)) {
            set_error(resp, 503, "server_error", "no_healthy_backend",
                      "router: no backend is healthy");
            return;
        }
        resp->status = 200;
        resp->content_type = "application/json";
        resp->body = strdup("{\"status\":\"ok\"}");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        return;
    }
    if (web_serve(req, resp))
        return; /* the chat page: its API calls carry the key */
    if (r->cfg.api_key && !auth_bearer_ok(r->cfg.api_key, req->authorization)) {
        set_error(resp, 401, "invalid_request_error", "invalid_api_key",
                  "missing or wrong API key (Authorization: Bearer KEY)");
        return;
    }
    if (req->body_too_large) {
        set_error(resp, 413, "invalid_request_error", NULL, "request body too large");
        return;
    }
    if (get && !strcmp(req->path, "/metrics")) {
        resp->body = router_metrics_render(&r->metrics, &r->set, &resp->body_len);
        resp->status = resp->body ? 200 : 500;
        resp->content_type = "text/plain; version=0.0.4";
        return;
    }
    if (get && !strcmp(req->path, "/v1/models")) {
        router_models(r, req, resp);
        return;
    }
    if (get && !strcmp(req->path, "/v1/kvspill/stats")) {
        router_stats(r, req, resp);
        return;
    }
    static const char route_prefix[] = "/kvspill/route";
    if (post && !strncmp(req->path, route_prefix, sizeof route_prefix - 1) &&
        (!strcmp(req->path + sizeof route_prefix - 1, proxied[0]) ||
         !strcmp(req->path + sizeof route_prefix - 1, proxied[1]))) {
        explain(r, req, resp, !strcmp(req->path + sizeof route_prefix - 1, proxied[1]));
        return;
    }
    for (size_t i = 0; i < sizeof proxied / sizeof proxied[0]; i++)
        if (!strcmp(req->path, proxied[i])) {
            if (!post) {
                set_error(resp, 405, "invalid_request_error", NULL, "use POST");
                return;
            }
            proxy(r, req, resp, i == 1);
            return;
        }
    char msg[300];
    snprintf(msg, sizeof msg, "no route %s %.200s", req->method, req->path);
    set_error(resp, 404, "invalid_request_error", NULL, msg);
}
