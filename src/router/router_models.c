/* GET /v1/models: the union of the healthy backends' lists, each model id once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"
#include "router/upstream_client.h"

/* Appends the models of one backend's answer that data does not hold yet. */
static int merge(json_t *data, const char *text, size_t len, model_error *err)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *list = json_object_get(root, "data");
    if (!json_is_array(list)) {
        json_decref(root);
        return model_fail(err, "/v1/models answer without a data list");
    }
    size_t i, j;
    json_t *m, *have;
    json_array_foreach(list, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        bool dup = !id;
        json_array_foreach(data, j, have)
            dup = dup || !strcmp(id, json_string_value(json_object_get(have, "id")));
        if (!dup && json_array_append(data, m)) {
            json_decref(root);
            return model_fail(err, "out of memory merging model lists");
        }
    }
    json_decref(root);
    return 0;
}

static int fetch(router *r, router_backend *b, const http_request *req, json_t *data,
                 model_error *err)
{
    upstream_request rq = {.method = "GET", .path = "/v1/models",
                           .authorization = req->authorization,
                           .connect_timeout_ms = r->cfg.connect_timeout_ms,
                           .first_byte_timeout_ms = r->cfg.connect_timeout_ms};
    upstream_conn *c;
    upstream_stage stage;
    if (upstream_open(b->host, b->port, &rq, &c, &stage, err))
        return -1;
    char *text = NULL;
    size_t len;
    unsigned st = upstream_status(c);
    int rc = upstream_read_all(c, 16u << 20, r->cfg.connect_timeout_ms, &text, &len, err);
    upstream_close(c);
    if (!rc && st != 200)
        rc = model_fail(err, "/v1/models answered %u", st);
    if (!rc)
        rc = merge(data, text, len, err);
    free(text);
    return rc;
}

void router_models(router *r, const http_request *req, http_response *resp)
{
    json_t *data = json_array(), *root = json_pack("{s:s,s:o}", "object", "list", "data", data);
    resp->status = 500;
    if (!root)
        return;
    for (size_t i = 0; i < atomic_load(&r->set.n); i++) {
        router_backend *b = router_backend_at(&r->set, i);
        model_error err;
        if (atomic_load(&b->healthy) && fetch(r, b, req, data, &err))
            fprintf(stderr, "kvspill router: models of %s left out: %s\n", b->url, err.msg);
    }
    resp->body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (resp->body) {
        resp->status = 200;
        resp->body_len = strlen(resp->body);
        resp->content_type = "application/json";
    }
}
