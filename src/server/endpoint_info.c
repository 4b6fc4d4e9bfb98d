/* The small endpoints: /health, /version, /v1/models, /metrics, /v1/kvspill/stats,
 * /tokenize, /detokenize. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/metrics.h"
#include "server/openai_response.h"
#include "server/server.h"
#include "server/stats_json.h"

void ep_health(server *s, const http_request *req, http_response *resp)
{
    server_reply(resp, 200, "text/plain", strdup(""), 0);
}

void ep_version(server *s, const http_request *req, http_response *resp)
{
    server_reply_json(resp, 200, json_pack("{s:s}", "version", KVSPILL_VERSION));
}

void ep_models(server *s, const http_request *req, http_response *resp)
{
    server_reply_json(resp, 200,
                      json_pack("{s:s, s:[{s:s, s:s, s:I, s:s, s:s, s:n, s:I}]}", "object", "list",
                                "data", "id", s->model_name, "object", "model", "created",
                                (json_int_t)time(NULL), "owned_by", "kvspill", "root",
                                s->model_name, "parent", "max_model_len",
                                (json_int_t)s->max_model_len));
}

void ep_metrics(server *s, const http_request *req, http_response *resp)
{
    engine_stats st;
    engine_get_stats(s->e, &st);
    tok_bytes out = {0};
    if (metrics_render(&st, s->model_name, &out) || tok_bytes_append(&out, "", 1)) {
        tok_bytes_free(&out);
        server_reply(resp, 500, NULL, NULL, 0);
        return;
    }
    server_reply(resp, 200, "text/plain; version=0.0.4; charset=utf-8", out.p, out.n - 1);
}

void ep_stats(server *s, const http_request *req, http_response *resp)
{
    engine_stats st;
    engine_get_stats(s->e, &st);
    json_t *j = stats_json(&st, s->model_name);
    if (!j) {
        server_reply(resp, 500, NULL, NULL, 0);
        return;
    }
    server_reply_json(resp, 200, j);
}

/* The JSON object of a body, or an error reply. */
static json_t *body_object(const http_request *req, http_response *resp, server *s)
{
    api_error err;
    json_error_t jerr;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        api_fail(&err, 400, NULL, NULL, "the body must be a JSON object%s%s", root ? "" : ": ",
                 root ? "" : jerr.text);
        server_reply_error(resp, &err);
        return NULL;
    }
    json_t *model_v = json_object_get(root, "model");
    if (model_v && !json_is_null(model_v) &&
        (!json_is_string(model_v) || strcmp(json_string_value(model_v), s->model_name) != 0)) {
        if (json_is_string(model_v))
            api_fail(&err, 404, "model", "model_not_found", "The model `%.200s` does not exist.",
                     json_string_value(model_v));
        else
            api_fail(&err, 400, "model", NULL, "'model' must be a string");
        json_decref(root);
        server_reply_error(resp, &err);
        return NULL;
    }
    return root;
}

static int opt_bool(json_t *root, const char *key, bool *out, api_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return api_fail(err, 400, key, NULL, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

void ep_tokenize(server *s, const http_request *req, http_response *resp)
{
    json_t *root = body_object(req, resp, s);
    if (!root)
        return;
    api_error err;
    token_ids ids = {0};
    oai_request r;
    memset(&r, 0, sizeof r);
    const tokenizer *tk = engine_tokenizer(s->e);
    bool chat = json_object_get(root, "messages") != NULL;
    bool add_special = !chat, add_gen = true;
    int rc = opt_bool(root, "add_special_tokens", &add_special, &err) ||
             opt_bool(root, "add_generation_prompt", &add_gen, &err);
    if (!rc && chat) {
        oai_limits lim = {.model_name = s->model_name};
        rc = oai_request_parse(OAI_CHAT, req->body, req->body_len, &lim, &r, &err) ||
             server_prompt_tokens(s, &r, add_gen, &ids, &err);
    } else if (!rc) {
        json_t *p = json_object_get(root, "prompt");
        model_error merr;
        if (!json_is_string(p))
            rc = api_fail(&err, 400, "prompt", NULL, "'prompt' must be a string");
        else if (tokenizer_encode(tk, json_string_value(p), json_string_length(p), add_special,
                                  true, &ids, &merr))
            rc = api_fail(&err, 400, "prompt", NULL, "cannot tokenize the prompt: %s", merr.msg);
    }
    json_decref(root);
    oai_request_free(&r);
    if (rc) {
        token_ids_free(&ids);
        server_reply_error(resp, &err);
        return;
    }
    json_t *tokens = json_array();
    for (size_t i = 0; tokens && i < ids.n; i++)
        json_array_append_new(tokens, json_integer(ids.ids[i]));
    server_reply_json(resp, 200, json_pack("{s:I, s:I, s:o, s:n}", "count", (json_int_t)ids.n,
                                           "max_model_len", (json_int_t)s->max_model_len,
                                           "tokens", tokens, "token_strs"));
    token_ids_free(&ids);
}

void ep_detokenize(server *s, const http_request *req, http_response *resp)
{
    json_t *root = body_object(req, resp, s);
    if (!root)
        return;
    api_error err;
    const tokenizer *tk = engine_tokenizer(s->e);
    uint32_t n_vocab = tokenizer_n_vocab(tk);
    json_t *arr = json_object_get(root, "tokens");
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int rc = 0;
    if (!ids)
        rc = api_fail(&err, 500, NULL, NULL, "out of memory reading the tokens");
    else if (!json_is_array(arr))
        rc = api_fail(&err, 400, "tokens", NULL, "'tokens' must be an array of token ids");
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 ||
            json_integer_value(t) >= (json_int_t)n_vocab)
            rc = api_fail(&err, 400, "tokens", NULL,
                          "'tokens' item %zu is not a token id of the vocabulary (%u)", i, n_vocab);
        else
            ids[i] = (int32_t)json_integer_value(t);
    }
    json_decref(root);
    tok_bytes text = {0};
    model_error merr;
    if (!rc && tokenizer_detokenize(tk, ids, n, false, &text, &merr))
        rc = api_fail(&err, 400, "tokens", NULL, "cannot detokenize: %s", merr.msg);
    free(ids);
    if (rc) {
        tok_bytes_free(&text);
        server_reply_error(resp, &err);
        return;
    }
    json_t *prompt = oai_text(text.p ? text.p : "", text.n);
    tok_bytes_free(&text);
    server_reply_json(resp, 200, json_pack("{s:o}", "prompt", prompt));
}
