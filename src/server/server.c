/* Routing and authentication of the API; response helpers shared by the endpoints. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/prompt.h"
#include "server/web.h"

/* The longest text of any token, in bytes: no token covers more of a prompt. */
static size_t longest_piece(const tokenizer *tk)
{
    size_t longest = 1;
    for (uint32_t id = 0; id < tokenizer_n_vocab(tk); id++) {
        size_t len = 0;
        if (tokenizer_token_text(tk, (int32_t)id, &len) && len > longest)
            longest = len;
    }
    return longest;
}

/* The text of a special token for the template's bos_token / eos_token ("" when none). */
int server_init(server *s, engine *e, const char *api_key, size_t max_request_bytes,
                const char *chat_template_arg, const char *tool_parser, model_error *err)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->model_name = engine_model_name(e);
    s->api_key = api_key && *api_key ? api_key : NULL;
    s->max_request_bytes = max_request_bytes;
    s->max_model_len = engine_max_model_len(e);
    s->max_prompt_bytes =
        oai_max_prompt_bytes(s->max_model_len, longest_piece(engine_tokenizer(e)));
    const char *t = engine_chat_template(e);
    const tokenizer *tk = engine_tokenizer(e);
    if (prompt_template_load(&s->tmpl, tk, t, engine_chat_template_tool_use(e),
                             chat_template_arg, err))
        return -1;
    s->tool_calls_token = tokenizer_find(tk, "[TOOL_CALLS]", strlen("[TOOL_CALLS]"));
    if (s->tool_calls_token >= 0 && tokenizer_token_type(tk, s->tool_calls_token) != TOKEN_CONTROL)
        s->tool_calls_token = -1;
    s->tool_format = tool_format_detect(
        chat_template_arg ? (s->tmpl.family == CHAT_LLAMA3 ? "<|start_header_id|>" : NULL) : t,
        s->tool_calls_token >= 0); /* an override is known by its family */
    if (tool_parser && tool_format_parse(tool_parser, &s->tool_format)) {
        chat_template_free(&s->tmpl);
        return model_fail(err, "--tool-call-parser '%s': kvspill reads hermes, mistral and "
                               "llama3_json", tool_parser);
    }
    if (gen_registry_init(&s->reg)) {
        chat_template_free(&s->tmpl);
        return model_fail(err, "cannot create the server's request registry lock");
    }
    return 0;
}

oai_limits server_limits(const server *s)
{
    return (oai_limits){s->model_name, tokenizer_n_vocab(engine_tokenizer(s->e)),
                        s->max_model_len, s->max_prompt_bytes, s->tool_format};
}

void server_destroy(server *s)
{
    gen_registry_destroy(&s->reg);
    chat_template_free(&s->tmpl);
}

void server_reply(http_response *resp, unsigned status, const char *type, char *body, size_t len)
{
    resp->status = status;
    resp->content_type = type;
    resp->body = body;
    resp->body_len = len;
    if (!body) {
        resp->status = 500;
        resp->content_type = "text/plain";
        resp->body_len = 0;
    }
}

void server_reply_json(http_response *resp, unsigned status, json_t *root)
{
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    server_reply(resp, status, "application/json", s, s ? strlen(s) : 0);
}

void server_reply_error(http_response *resp, const api_error *err)
{
    size_t len = 0;
    char *body = api_error_json(err, &len);
    server_reply(resp, err->status, "application/json", body, len);
}

typedef struct route {
    const char *method, *path;
    void (*fn)(server *s, const http_request *req, http_response *resp);
    bool open; /* served without the API key: probes and scraping, as vLLM serves them */
} route;

static const route routes[] = {
    {"GET", "/health", ep_health, true},
    {"GET", "/version", ep_version, true},
    {"GET", "/v1/models", ep_models, false},
    {"GET", "/metrics", ep_metrics, true},
    {"GET", "/v1/kvspill/stats", ep_stats, false},
    {"POST", "/tokenize", ep_tokenize, false},
    {"POST", "/detokenize", ep_detokenize, false},
    {"POST", "/v1/completions", ep_completions, false},
    {"POST", "/v1/chat/completions", ep_chat_completions, false},
    {"POST", "/v1/embeddings", ep_embeddings, false},
    {"POST", "/kvspill/lookup", ep_kvspill_lookup, false},
    {"GET", "/kvspill/keying", ep_kvspill_keying, false},
};

void server_handle(void *user, const http_request *req, http_response *resp)
{
    server *s = user;
    api_error err;
    const route *r = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(req->path, routes[i].path) != 0)
            continue;
        path_known = true;
        if (!strcmp(req->method, routes[i].method) ||
            (!strcmp(req->method, "HEAD") && !strcmp(routes[i].method, "GET")))
            r = &routes[i];
    }
    if (!r && !path_known && web_serve(req, resp))
        return;
    if (!r) {
        api_fail(&err, path_known ? 405 : 404, NULL, NULL, "%s %.200s: %s", req->method,
                 req->path, path_known ? "method not allowed" : "no such endpoint");
        server_reply_error(resp, &err);
        return;
    }
    if (!r->open && s->api_key && !auth_bearer_ok(s->api_key, req->authorization)) {
        api_fail(&err, 401, NULL, "invalid_api_key",
                 "Missing or incorrect API key: send 'Authorization: Bearer <key>'");
        server_reply_error(resp, &err);
        return;
    }
    if (req->body_too_large) {
        api_fail(&err, 413, NULL, NULL,
                 "the request body is over %zu bytes, the server's --max-request-bytes",
                 s->max_request_bytes);
        server_reply_error(resp, &err);
        return;
    }
    r->fn(s, req, resp);
}
