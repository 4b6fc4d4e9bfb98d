/* Routing logic: which healthy backend gets a request.
 *
 * roundrobin: a shared counter; O(backends) per request, no memory, even spread, no cache
 *   affinity.
 * session: rendezvous hashing of the --session-key value (a header, else a top-level body
 *   field) over the healthy backends; O(backends) per request, no memory. A user's turns
 *   land on one replica, whose prefix cache holds the conversation; when a backend leaves,
 *   only its sessions move. Without a key: roundrobin.
 * prefixaware: the prompt's first K blocks of B chars hashed as a chain, then rendezvous
 *   hashing over the healthy backends that are not overloaded; O(prompt chars read, at
 *   most K x B hashed + backends) per request, no memory (no trie, no per-prefix state).
 *   Requests sharing their first K x B chars go to one replica and hit its prefix cache.
 *   The cost of that affinity: a long system prompt shared by all users fills the first K
 *   blocks, so every user would hash to the same replica; the load cap (skip a backend
 *   whose in-flight count exceeds --max-load-ratio x the mean + 1) spreads them, trading
 *   some cache hits for balance.
 * kvaware: every healthy replica under the same load cap asked, in parallel, its estimate
 *   of the prompt's time to first token (router_kvaware.h); one round trip to each replica
 *   per request (a tokenization and a lookup there), no memory in the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_fanout.h"
#include "router/router_hash.h"
#include "router/router_internal.h"
#include "router/router_kvaware.h"
#include "router/router_prompt.h"

static int choose_rr(router *r, const bool *eligible, size_t n)
{
    unsigned start = atomic_fetch_add(&r->rr_next, 1);
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (eligible[i])
            return (int)i;
    }
    return -1;
}

/* The session key's value: the header, else a string or number top-level body field. */
static int session_value(router *r, const http_request *req, const json_t *body, char *buf,
                         size_t len)
{
    const char *h = http_request_header(req, r->cfg.session_key);
    if (h && *h) {
        snprintf(buf, len, "%s", h);
        return 0;
    }
    const json_t *v = body ? json_object_get(body, r->cfg.session_key) : NULL;
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    return -1;
}

/* Asks every eligible backend at once; probes[i].answered says who answered in time. */
static void probe_all(router *r, const http_request *req, const bool *eligible, size_t n,
                      kvaware_probe *probes)
{
    int t = r->cfg.kvaware_timeout_ms;
    upstream_request rq = {.method = "POST", .path = "/kvspill/lookup",
                           .authorization = req->authorization, .body = req->body,
                           .body_len = req->body_len, .connect_timeout_ms = t,
                           .first_byte_timeout_ms = t};
    router_answer answers[ROUTER_MAX_BACKENDS];
    router_ask_all(&r->set, &rq, eligible, n, 1u << 16, answers);
    for (size_t i = 0; i < n; i++) {
        memset(&probes[i], 0, sizeof probes[i]);
        /* an answer that does not parse is scored as none */
        if (answers[i].answered && answers[i].status == 200)
            (void)kvaware_parse_probe(answers[i].body, answers[i].len, &probes[i]);
    }
    router_answers_free(answers, n);
}

/* prefixaware's hash: the first bytes of the request's routing chain key with --model and
 * a replica's keying known, else the character chain (and then why->chunks is 0). */
static uint64_t prefix_key(router *r, const http_request *req, const json_t *body, bool chat,
                           router_reason *why)
{
    model_error err;
    if (r->keys.tk && router_keys_ready(&r->keys) &&
        router_keys_route_key(&r->keys, req->body, req->body_len, chat, r->cfg.prefix_blocks,
                              &why->key, &why->chunks, &err) == 0) {
        uint64_t h;
        memcpy(&h, why->key.b, sizeof h);
        return h;
    }
    why->chunks = 0;
    char *text;
    size_t len;
    if (router_prompt_text(body, chat, &text, &len, &err)) {
        fprintf(stderr, "kvspill router: %s\n", err.msg);
        return ROUTER_HASH_SEED;
    }
    uint64_t h = router_prefix_hash(text, len, r->cfg.prefix_block_chars, r->cfg.prefix_blocks);
    free(text);
    return h;
}

int router_choose(router *r, const http_request *req, const json_t *body, bool chat,
                  const bool *tried, router_reason *why)
{
    router_reason unused;
    if (!why)
        why = &unused;
    why->chunks = 0;
    size_t n = atomic_load(&r->set.n);
    bool eligible[ROUTER_MAX_BACKENDS];
    uint64_t ids[ROUTER_MAX_BACKENDS];
    int load[ROUTER_MAX_BACKENDS];
    for (size_t i = 0; i < n; i++) {
        router_backend *b = router_backend_at(&r->set, i);
        eligible[i] = !tried[i] && atomic_load(&b->healthy);
        ids[i] = b->id;
        load[i] = atomic_load(&b->in_flight);
    }
    router_logic used = ROUTER_ROUNDROBIN;
    int pick = -1;
    char key[512];
    if (r->cfg.logic == ROUTER_SESSION && session_value(r, req, body, key, sizeof key) == 0) {
        used = ROUTER_SESSION;
        pick = router_rendezvous(router_hash_bytes(ROUTER_HASH_SEED, key, strlen(key)), ids,
                                 eligible, n);
    } else if (r->cfg.logic == ROUTER_PREFIXAWARE && body) {
        used = ROUTER_PREFIXAWARE;
        uint64_t h = prefix_key(r, req, body, chat, why);
        router_load_cap(load, eligible, n, r->cfg.max_load_ratio);
        pick = router_rendezvous(h, ids, eligible, n);
    } else if (r->cfg.logic == ROUTER_KVAWARE && body) {
        uint64_t h = prefix_key(r, req, body, chat, why);
        kvaware_probe probes[ROUTER_MAX_BACKENDS];
        router_load_cap(load, eligible, n, r->cfg.max_load_ratio);
        probe_all(r, req, eligible, n, probes);
        used = ROUTER_KVAWARE;
        pick = kvaware_pick(probes, load, ids, eligible, n, h);
    }
    if (used == ROUTER_ROUNDROBIN)
        pick = choose_rr(r, eligible, n);
    if (pick >= 0)
        atomic_fetch_add(&r->metrics.decisions[used], 1);
    return pick;
}
