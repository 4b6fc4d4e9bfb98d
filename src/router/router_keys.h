/* prefixaware on the cache's chain keys (`kvspill router --model PATH`): the router reads
 * the tokenizer and chat template of the GGUF its replicas serve (the vocabulary only: no
 * tensor is read), learns from a replica what names its chunks (GET /kvspill/keying: the
 * namespace description and the chunk size), and so computes a request's chunk keys
 * exactly as the replica's connector does: the same rendering and tokens, then
 * k_i = kvs_key_next(k_{i-1}, chunk i) from the request's namespace (its cache_salt in).
 *
 * The routing key is the chain key of the request's *conversation prefix*:
 *  - chat without tools: the rendering of the messages through the first one that is not
 *    a system message (no generation prompt). A shared system prompt alone is not a
 *    conversation, so users who share it still spread over the replicas (the
 *    production-stack router's #957), while every later turn of one conversation, whose
 *    prompt starts with the same rendering, has the same key and lands where its history
 *    is. The tokens past the last full chunk are chained in as one partial chunk.
 *  - completions, and chats with tools: the deepest full chunk among the first
 *    `blocks` (--prefix-blocks) chunks, the prompt chained whole when it has none.
 * Not the deepest full chunk of the whole prompt: a conversation would move to another
 * replica each time its history filled one more chunk. */
#ifndef KVSPILL_ROUTER_KEYS_H
#define KVSPILL_ROUTER_KEYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvspill.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "server/openai_request.h"

typedef struct router_keys {
    gguf_file *gf;
    tokenizer *tk;
    chat_template tmpl;
    oai_limits lim;
    pthread_mutex_t mu;       /* guards the keying below, learnt once from a replica */
    bool keyed;
    kvs_namespace_desc desc;  /* cache_salt NULL */
    uint32_t chunk_tokens;
} router_keys;

/* Opens the GGUF at path for its tokenizer and chat template (override: --chat-template,
 * as serve takes it, or NULL). */
int router_keys_load(router_keys *k, const char *path, const char *override,
                     model_error *err) MODEL_MUST_CHECK;
void router_keys_free(router_keys *k);

/* True once a replica's keying is known. */
bool router_keys_ready(router_keys *k);
/* Takes a replica's GET /kvspill/keying answer. */
int router_keys_set_keying(router_keys *k, const char *json, size_t len,
                           model_error *err) MODEL_MUST_CHECK;

/* The routing key of a request body (chat: /v1/chat/completions), with blocks as above:
 * *key its chain key, *n_chunks how many chunks (full or the partial one) it chains. -1
 * (err) when the body does not parse or render, or no keying is known yet. */
int router_keys_route_key(router_keys *k, const char *body, size_t len, bool chat,
                          unsigned blocks, kvs_key *key, size_t *n_chunks,
                          model_error *err) MODEL_MUST_CHECK;

#endif
