/* JSON of completion responses and stream chunks. */
#include "server/openai_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void oai_meta_init(oai_meta *m, oai_kind kind, const char *model_name)
{
    unsigned char rnd[12] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* Ids only need to be distinct, not secret: time and address will do. */
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)m;
        memcpy(rnd, &t, sizeof t);
    }
    m->kind = kind;
    int off = snprintf(m->id, sizeof m->id, "%s", kind == OAI_CHAT ? "chatcmpl-" : "cmpl-");
    for (size_t i = 0; i < sizeof rnd; i++)
        off += snprintf(m->id + off, sizeof m->id - (size_t)off, "%02x", rnd[i]);
    m->created = (long long)time(NULL);
    m->model = model_name;
}

json_t *oai_text(const char *text, size_t len)
{
    json_t *j = json_stringn(text, len);
    if (j)
        return j;
    /* Invalid UTF-8: rebuild with U+FFFD for each byte that does not start a valid char. */
    char *clean = malloc(len * 3 + 1);
    if (!clean)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (k <= 4 && i + k <= len) {
            json_t *probe = json_stringn(text + i, k);
            if (probe) {
                json_decref(probe);
                break;
            }
            k++;
        }
        if (k <= 4 && i + k <= len) {
            memcpy(clean + w, text + i, k);
            w += k;
            i += k;
        } else {
            memcpy(clean + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
        }
    }
    j = json_stringn(clean, w);
    free(clean);
    return j;
}

size_t oai_text_chars(const char *text, size_t len)
{
    json_t *j = oai_text(text, len);
    const char *s = json_string_value(j);
    size_t n = 0;
    for (size_t i = 0; s && i < json_string_length(j); i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80; /* every byte but a continuation byte */
    json_decref(j);
    return n;
}

json_t *oai_usage_json(const oai_usage *u)
{
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", (json_int_t)u->prompt_tokens,
                     "completion_tokens", (json_int_t)u->completion_tokens, "total_tokens",
                     (json_int_t)u->prompt_tokens + u->completion_tokens,
                     "prompt_tokens_details", "cached_tokens", (json_int_t)u->cached_tokens);
}

json_t *oai_kvspill_json(const oai_usage *u)
{
    json_t *by = json_pack("{s:i}", "prefix_cache", (json_int_t)u->cached_by.prefix_cache);
    for (unsigned t = 0; by && t < KVS_MAX_TIERS && u->tier_names[t]; t++)
        if (json_object_set_new(by, u->tier_names[t], json_integer(u->cached_by.tier[t]))) {
            json_decref(by);
            return NULL;
        }
    uint32_t recomputed = u->prompt_tokens > u->cached_tokens ? u->prompt_tokens - u->cached_tokens : 0;
    return json_pack("{s:o, s:i, s:f}", "cached_tokens", by, "recomputed",
                     (json_int_t)recomputed, "ttft_ms", u->ttft_ms);
}

/* Sets root's usage and kvspill members; -1 when out of memory. */
static int set_usage(json_t *root, const oai_usage *u)
{
    json_t *k = oai_kvspill_json(u);
    if (!k || json_object_set_new(root, "usage", oai_usage_json(u)))
        return json_decref(k), -1;
    return json_object_set_new(root, "kvspill", k) ? -1 : 0;
}

static json_t *meta_object(const oai_meta *m, bool chunk)
{
    const char *object = m->kind == OAI_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                             : "text_completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:[]}", "id", m->id, "object", object, "created",
                     (json_int_t)m->created, "model", m->model, "choices");
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *lp_or_null(json_t *lp)
{
    return lp ? json_incref(lp) : json_null();
}

static char *dump(json_t *root, size_t *len)
{
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (s && len)
        *len = strlen(s);
    return s;
}

static json_t *prefixed_text(const oai_choice *c)
{
    char *s = malloc(c->prefix_len + c->len + 1);
    if (!s)
        return NULL;
    memcpy(s, c->prefix, c->prefix_len);
    if (c->len)
        memcpy(s + c->prefix_len, c->text, c->len);
    json_t *j = oai_text(s, c->prefix_len + c->len);
    free(s);
    return j;
}

char *oai_response_body(const oai_meta *m, const oai_choice *choices, size_t n,
                        const oai_usage *u, size_t *len)
{
    json_t *root = meta_object(m, false), *arr = json_object_get(root, "choices");
    if (!root)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const oai_choice *c = &choices[i];
        json_t *text = c->prefix ? prefixed_text(c) : c->text ? oai_text(c->text, c->len)
                                                             : json_null(), *ch;
        if (m->kind == OAI_CHAT) {
            json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content", text);
            if (msg && c->tool_calls)
                json_object_set(msg, "tool_calls", c->tool_calls);
            ch = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)i, "message", msg,
                           "logprobs", lp_or_null(c->logprobs), "finish_reason",
                           str_or_null(c->finish_reason));
        } else
            ch = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)i, "text", text,
                           "logprobs", lp_or_null(c->logprobs), "finish_reason",
                           str_or_null(c->finish_reason));
        if (!ch || json_array_append_new(arr, ch)) {
            json_decref(root);
            return NULL;
        }
    }
    if (set_usage(root, u)) {
        json_decref(root);
        return NULL;
    }
    return dump(root, len);
}

static int append_event(json_t *root, tok_bytes *out)
{
    size_t n;
    char *s = dump(root, &n);
    if (!s)
        return -1;
    int rc = tok_bytes_append(out, "data: ", 6) || tok_bytes_append(out, s, n) ||
             tok_bytes_append(out, "\n\n", 2);
    free(s);
    return rc ? -1 : 0;
}

int oai_chunk_append(const oai_meta *m, uint32_t index, const char *text, size_t len,
                     bool first, const char *finish_reason, json_t *logprobs, tok_bytes *out)
{
    json_t *root = meta_object(m, true), *ch;
    if (!root)
        return -1;
    json_t *t = oai_text(text, len);
    if (m->kind == OAI_CHAT) {
        json_t *delta = first ? json_pack("{s:s, s:o}", "role", "assistant", "content", t)
                              : json_pack("{s:o}", "content", t);
        ch = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "delta", delta,
                       "logprobs", lp_or_null(logprobs), "finish_reason",
                       str_or_null(finish_reason));
    } else
        ch = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "text", t, "logprobs",
                       lp_or_null(logprobs), "finish_reason", str_or_null(finish_reason));
    if (!ch || json_array_append_new(json_object_get(root, "choices"), ch)) {
        json_decref(root);
        return -1;
    }
    return append_event(root, out);
}

/* One chunk whose delta holds one tool-call delta. */
static int tool_delta_event(const oai_meta *m, uint32_t index, json_t *tc, bool first,
                            tok_bytes *out)
{
    json_t *delta = first ? json_pack("{s:s, s:n, s:[o]}", "role", "assistant", "content",
                                      "tool_calls", tc)
                          : json_pack("{s:[o]}", "tool_calls", tc);
    json_t *root = meta_object(m, true);
    json_t *ch = json_pack("{s:I, s:o, s:n, s:n}", "index", (json_int_t)index, "delta", delta,
                           "logprobs", "finish_reason");
    if (!root || !ch || json_array_append_new(json_object_get(root, "choices"), ch)) {
        json_decref(root);
        return -1;
    }
    return append_event(root, out);
}

int oai_tool_calls_chunk_append(const oai_meta *m, uint32_t index, json_t *calls, bool first,
                                tok_bytes *out)
{
    size_t k;
    json_t *call;
    json_array_foreach(calls, k, call) {
        json_t *fn = json_object_get(call, "function");
        json_t *head = json_pack("{s:I, s:O, s:s, s:{s:O, s:s}}", "index", (json_int_t)k, "id",
                                 json_object_get(call, "id"), "type", "function", "function",
                                 "name", json_object_get(fn, "name"), "arguments", "");
        json_t *args = json_pack("{s:I, s:{s:O}}", "index", (json_int_t)k, "function",
                                 "arguments", json_object_get(fn, "arguments"));
        if (!head || !args) {
            json_decref(head);
            json_decref(args);
            return -1;
        }
        if (tool_delta_event(m, index, head, first && k == 0, out) ||
            tool_delta_event(m, index, args, false, out))
            return -1;
    }
    return 0;
}

int oai_usage_chunk_append(const oai_meta *m, const oai_usage *u, tok_bytes *out)
{
    json_t *root = meta_object(m, true);
    if (!root || set_usage(root, u)) {
        json_decref(root);
        return -1;
    }
    return append_event(root, out);
}

int oai_done_append(tok_bytes *out)
{
    static const char done[] = "data: [DONE]\n\n";
    return tok_bytes_append(out, done, sizeof done - 1);
}

json_t *oai_logprobs_new(oai_kind kind)
{
    if (kind == OAI_CHAT)
        return json_pack("{s:[]}", "content");
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs",
                     "text_offset");
}

size_t oai_logprobs_count(json_t *lp, oai_kind kind)
{
    return json_array_size(json_object_get(lp, kind == OAI_CHAT ? "content" : "tokens"));
}

/* {"token", "logprob", "bytes"} of chat logprobs; the piece's bytes as they are, its text
 * with U+FFFD for a part of a character. */
static json_t *chat_token(const oai_token_lp *t)
{
    json_t *bytes = json_array();
    for (size_t i = 0; bytes && i < t->len; i++)
        if (json_array_append_new(bytes, json_integer((unsigned char)t->piece[i]))) {
            json_decref(bytes);
            return NULL;
        }
    return bytes ? json_pack("{s:o, s:f, s:o}", "token", oai_text(t->piece, t->len), "logprob",
                             (double)t->logprob, "bytes", bytes)
                 : NULL;
}

static int add_chat(json_t *lp, const oai_token_lp *tok, const oai_token_lp *alts,
                    size_t n_alts)
{
    json_t *entry = chat_token(tok), *top = json_array();
    int rc = !entry || !top || json_object_set(entry, "top_logprobs", top);
    for (size_t i = 0; rc == 0 && i < n_alts; i++)
        rc = json_array_append_new(top, chat_token(&alts[i]));
    json_decref(top);
    rc = rc || json_array_append(json_object_get(lp, "content"), entry);
    json_decref(entry);
    return rc ? -1 : 0;
}

/* Sets key text -> logprob unless a more likely token of the same text is there already. */
static int top_entry(json_t *top, const oai_token_lp *t)
{
    json_t *key = oai_text(t->piece, t->len);
    if (!key)
        return -1;
    const char *k = json_string_value(key);
    size_t kn = json_string_length(key);
    int rc = json_object_getn(top, k, kn) ? 0
                                          : json_object_setn_new(top, k, kn,
                                                                 json_real(t->logprob));
    json_decref(key);
    return rc ? -1 : 0;
}

static int add_completion(json_t *lp, json_t *token, json_t *logprob, json_t *top,
                          size_t text_offset)
{
    int rc = !token || !logprob || !top ||
             json_array_append(json_object_get(lp, "tokens"), token) ||
             json_array_append(json_object_get(lp, "token_logprobs"), logprob) ||
             json_array_append(json_object_get(lp, "top_logprobs"), top) ||
             json_array_append_new(json_object_get(lp, "text_offset"),
                                   json_integer((json_int_t)text_offset));
    json_decref(token);
    json_decref(logprob);
    json_decref(top);
    return rc ? -1 : 0;
}

int oai_logprobs_add(json_t *lp, oai_kind kind, const oai_token_lp *tok,
                     const oai_token_lp *alts, size_t n_alts, size_t text_offset)
{
    if (kind == OAI_CHAT)
        return add_chat(lp, tok, alts, n_alts);
    json_t *top = json_object();
    int rc = top ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n_alts; i++)
        rc = top_entry(top, &alts[i]);
    if (rc == 0)
        rc = top_entry(top, tok);
    if (rc) {
        json_decref(top);
        return -1;
    }
    return add_completion(lp, oai_text(tok->piece, tok->len), json_real(tok->logprob), top,
                          text_offset);
}

int oai_logprobs_add_first(json_t *lp, const char *piece, size_t len)
{
    return add_completion(lp, oai_text(piece, len), json_null(), json_null(), 0);
}
