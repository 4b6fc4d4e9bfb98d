/* GET /v1/models: the union of the healthy backends' lists, each model id once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"
#include "router/router_fanout.h"

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

void router_models(router *r, const http_request *req, http_response *resp)
{
    json_t *data = json_array(), *root = json_pack("{s:s,s:o}", "object", "list", "data", data);
    resp->status = 500;
    if (!root)
        return;
    size_t n = atomic_load(&r->set.n);
    bool ask[ROUTER_MAX_BACKENDS];
    for (size_t i = 0; i < n; i++)
        ask[i] = atomic_load(&router_backend_at(&r->set, i)->healthy);
    upstream_request rq = {.method = "GET", .path = "/v1/models",
                           .authorization = req->authorization,
                           .connect_timeout_ms = r->cfg.connect_timeout_ms,
                           .first_byte_timeout_ms = r->cfg.connect_timeout_ms};
    router_answer answers[ROUTER_MAX_BACKENDS];
    router_ask_all(&r->set, &rq, ask, n, 16u << 20, answers);
    for (size_t i = 0; i < n; i++) {
        model_error err = answers[i].err;
        int rc = answers[i].answered ? 0 : -1;
        if (!rc && answers[i].status != 200)
            rc = model_fail(&err, "/v1/models answered %u", answers[i].status);
        if (!rc)
            rc = merge(data, answers[i].body, answers[i].len, &err);
        if (ask[i] && rc)
            fprintf(stderr, "kvspill router: models of %s left out: %s\n",
                    router_backend_at(&r->set, i)->url, err.msg);
    }
    router_answers_free(answers, n);
    resp->body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (resp->body) {
        resp->status = 200;
        resp->body_len = strlen(resp->body);
        resp->content_type = "application/json";
    }
}
