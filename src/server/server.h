/* The OpenAI-compatible API over an engine: routing, authentication, and the endpoints
 * (one file per group: endpoint_info.c, endpoint_completion.c). */
#ifndef KVSPILL_SERVER_SERVER_H
#define KVSPILL_SERVER_SERVER_H

#include <jansson.h>

#include "engine/engine.h"
#include "model/chat_template.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/http.h"
#include "server/openai_request.h"

/* Defaults of the request and connection limits (kvspill serve flags of the same names). */
#define SERVER_MAX_REQUEST_BYTES (32u << 20) /* --max-request-bytes */
#define SERVER_MAX_CONNECTIONS 1024          /* --max-connections */
#define SERVER_MAX_CONNECTIONS_PER_IP 64     /* --max-connections-per-ip */
#define SERVER_CONNECTION_TIMEOUT_S 60       /* --connection-timeout */

typedef struct server {
    engine *e;
    const char *model_name;
    const char *api_key;       /* NULL or "": no authentication */
    size_t max_request_bytes;  /* a longer body → 413; the HTTP layer's cap */
    uint32_t max_model_len;
    size_t max_prompt_bytes;   /* longer prompt text cannot fit max_model_len tokens → 400 */
    chat_template tmpl;
    tool_format tool_format;   /* --tool-call-parser, or guessed from the template */
    int32_t tool_calls_token;  /* Mistral's [TOOL_CALLS] control token, -1 when none */
    gen_registry reg;
} server;

/* chat_template_arg: --chat-template (a family name or a Jinja file), or NULL for the
 * model's own template. A template the interpreter cannot run is an error here.
 * tool_parser: --tool-call-parser (tool_parse.h's names), or NULL to guess the format from
 * the template and the vocabulary; an unknown name is an error. */
int server_init(server *s, engine *e, const char *api_key, size_t max_request_bytes,
                const char *chat_template_arg, const char *tool_parser,
                model_error *err) MODEL_MUST_CHECK;
/* The limits of a request to this server (oai_request_parse). */
oai_limits server_limits(const server *s);
void server_destroy(server *s);

/* The http_handler_fn: every request goes through here. */
void server_handle(void *user, const http_request *req, http_response *resp);

/* Response helpers (they take over body / root). */
void server_reply(http_response *resp, unsigned status, const char *type, char *body, size_t len);
void server_reply_json(http_response *resp, unsigned status, json_t *root);
void server_reply_error(http_response *resp, const api_error *err);

/* The prompt of a parsed request as token ids: completion text through the tokenizer (BOS
 * as the model asks, special-token texts parsed), token ids as given, chat messages through
 * the model's template. */
int server_prompt_tokens(server *s, const oai_request *r, bool add_generation_prompt,
                         token_ids *out, api_error *err);

/* Endpoints. */
void ep_health(server *s, const http_request *req, http_response *resp);
void ep_version(server *s, const http_request *req, http_response *resp);
void ep_models(server *s, const http_request *req, http_response *resp);
void ep_metrics(server *s, const http_request *req, http_response *resp);
void ep_stats(server *s, const http_request *req, http_response *resp);
void ep_tokenize(server *s, const http_request *req, http_response *resp);
void ep_kvspill_lookup(server *s, const http_request *req, http_response *resp);
void ep_kvspill_keying(server *s, const http_request *req, http_response *resp);
void ep_detokenize(server *s, const http_request *req, http_response *resp);
void ep_completions(server *s, const http_request *req, http_response *resp);
void ep_chat_completions(server *s, const http_request *req, http_response *resp);
void ep_embeddings(server *s, const http_request *req, http_response *resp);

#endif
