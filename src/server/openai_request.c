/* Request bodies of the OpenAI completion endpoints, validated field by field. Every
 * problem names its field in api_error.param so clients can tell what to fix. */
#include "server/openai_request.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/structured_output.h"

#define BAD(param, ...) api_fail(err, 400, param, NULL, __VA_ARGS__)

/* ---- Typed field readers: absent or null leaves *out unchanged, returns 0 ---------- */

static int get_number(json_t *root, const char *key, double lo, double hi, double *out,
                      api_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return BAD(key, "'%s' must be a number", key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi)
        return BAD(key, "'%s' must be between %g and %g, got %g", key, lo, hi, d);
    *out = d;
    return 0;
}

static int get_int(json_t *root, const char *key, long long lo, long long hi, long long *out,
                   bool *set, api_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return BAD(key, "'%s' must be an integer", key);
    long long i = json_integer_value(v);
    if (i < lo || i > hi)
        return BAD(key, "'%s' must be between %lld and %lld, got %lld", key, lo, hi, i);
    *out = i;
    if (set)
        *set = true;
    return 0;
}

static int get_bool(json_t *root, const char *key, bool *out, api_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return BAD(key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int nomem(api_error *err)
{
    return api_fail(err, 500, NULL, NULL, "out of memory parsing the request");
}

/* ---- Prompt (completions) ----------------------------------------------------------- */

static int token_array(json_t *arr, const char *param, const oai_limits *lim, int32_t **out,
                       size_t *n_out, api_error *err)
{
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t)) {
            free(ids);
            return BAD(param, "'%s' must hold integer token ids (item %zu is not)", param, i);
        }
        json_int_t id = json_integer_value(t);
        if (id < 0 || id > INT32_MAX || (lim->n_vocab && (uint64_t)id >= lim->n_vocab)) {
            free(ids);
            return BAD(param, "'%s' item %zu: token id %lld is outside the vocabulary (%u)",
                       param, i, (long long)id, lim->n_vocab);
        }
        ids[i] = (int32_t)id;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

static int prompt_too_long(const char *param, size_t bytes, const oai_limits *lim,
                           api_error *err)
{
    return api_fail(err, 400, param, "context_length_exceeded",
                    "This model's maximum context length is %u tokens. However, your %s "
                    "has %zu bytes of text, more than %u tokens can hold (%zu bytes).",
                    lim->max_model_len, param, bytes, lim->max_model_len,
                    lim->max_prompt_bytes);
}

size_t oai_max_prompt_bytes(uint32_t max_model_len, size_t max_piece_bytes)
{
    return (size_t)max_model_len * (max_piece_bytes ? max_piece_bytes : 1);
}

static int parse_prompt(json_t *root, const oai_limits *lim, oai_request *r, api_error *err)
{
    json_t *p = json_object_get(root, "prompt");
    if (!p || json_is_null(p))
        return BAD("prompt", "'prompt' is required");
    /* A one-element batch is the same as its element; larger batches are not served. */
    if (json_is_array(p) && json_array_size(p) == 1 &&
        (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0))))
        p = json_array_get(p, 0);
    if (json_is_string(p)) {
        if (lim->max_prompt_bytes && json_string_length(p) > lim->max_prompt_bytes)
            return prompt_too_long("prompt", json_string_length(p), lim, err);
        r->prompt_len = json_string_length(p);
        r->prompt_text = dup_bytes(json_string_value(p), r->prompt_len);
        return r->prompt_text ? 0 : nomem(err);
    }
    if (!json_is_array(p))
        return BAD("prompt", "'prompt' must be a string or an array of token ids");
    if (json_array_size(p) == 0)
        return BAD("prompt", "'prompt' is empty");
    json_t *first = json_array_get(p, 0);
    if (json_is_string(first) || json_is_array(first))
        return BAD("prompt", "'prompt' holds %zu prompts; send one prompt per request",
                   json_array_size(p));
    r->prompt_is_tokens = true;
    return token_array(p, "prompt", lim, &r->prompt_tokens, &r->n_prompt_tokens, err);
}

/* ---- Messages (chat) ---------------------------------------------------------------- */

/* content: a string, null, or an array of {"type":"text","text":...} parts joined by "\n". */
static int message_content(json_t *c, size_t i, char **out, size_t *len, api_error *err)
{
    *len = 0;
    if (!c || json_is_null(c)) {
        *out = dup_bytes("", 0);
        return *out ? 0 : nomem(err);
    }
    if (json_is_string(c)) {
        *len = json_string_length(c);
        *out = dup_bytes(json_string_value(c), *len);
        return *out ? 0 : nomem(err);
    }
    if (!json_is_array(c))
        return BAD("messages", "messages[%zu].content must be a string or an array of parts", i);
    size_t total = 0;
    for (size_t k = 0; k < json_array_size(c); k++) {
        json_t *part = json_array_get(c, k);
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type) || !json_is_string(text) ||
            strcmp(json_string_value(type), "text") != 0)
            return BAD("messages", "messages[%zu].content[%zu] must be {\"type\": \"text\", "
                                   "\"text\": string} (only text parts are supported)", i, k);
        total += json_string_length(text) + 1;
    }
    char *s = malloc(total + 1), *w = s;
    if (!s)
        return nomem(err);
    for (size_t k = 0; k < json_array_size(c); k++) {
        json_t *text = json_object_get(json_array_get(c, k), "text");
        if (k)
            *w++ = '\n';
        memcpy(w, json_string_value(text), json_string_length(text));
        w += json_string_length(text);
    }
    *w = 0;
    *out = s;
    *len = (size_t)(w - s);
    return 0;
}

static int parse_messages(json_t *root, const oai_limits *lim, oai_request *r, api_error *err)
{
    json_t *m = json_object_get(root, "messages");
    if (!m || json_is_null(m))
        return BAD("messages", "'messages' is required");
    if (!json_is_array(m) || json_array_size(m) == 0)
        return BAD("messages", "'messages' must be a non-empty array");
    size_t n = json_array_size(m);
    if (lim->max_model_len && n > lim->max_model_len)
        return api_fail(err, 400, "messages", "context_length_exceeded",
                        "'messages' holds %zu messages; each takes a token at least and the "
                        "model's maximum context length is %u tokens", n, lim->max_model_len);
    r->messages = calloc(n, sizeof *r->messages);
    if (!r->messages)
        return nomem(err);
    size_t text_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *msg = json_array_get(m, i), *role = json_object_get(msg, "role");
        if (!json_is_object(msg))
            return BAD("messages", "messages[%zu] must be an object", i);
        if (!json_is_string(role) || json_string_length(role) == 0)
            return BAD("messages", "messages[%zu].role must be a non-empty string", i);
        char *content = NULL;
        size_t content_len;
        if (message_content(json_object_get(msg, "content"), i, &content, &content_len, err))
            return -1;
        char *role_s = dup_bytes(json_string_value(role), json_string_length(role));
        r->messages[r->n_messages].role = role_s;
        r->messages[r->n_messages++].content = content;
        if (!role_s)
            return nomem(err);
        text_bytes += content_len;
        if (lim->max_prompt_bytes && text_bytes > lim->max_prompt_bytes)
            return prompt_too_long("messages", text_bytes, lim, err);
    }
    return 0;
}

/* ---- Sampling ----------------------------------------------------------------------- */

static int parse_stop(json_t *root, oai_request *r, api_error *err)
{
    json_t *s = json_object_get(root, "stop");
    if (!s || json_is_null(s))
        return 0;
    json_t *one = json_is_string(s) ? s : NULL;
    if (!one && !json_is_array(s))
        return BAD("stop", "'stop' must be a string or an array of strings");
    size_t n = one ? 1 : json_array_size(s);
    if (n > OAI_MAX_STOP)
        return BAD("stop", "'stop' holds %zu strings; at most %d are allowed", n, OAI_MAX_STOP);
    for (size_t i = 0; i < n; i++) {
        json_t *v = one ? one : json_array_get(s, i);
        if (!json_is_string(v))
            return BAD("stop", "'stop' item %zu is not a string", i);
        if (json_string_length(v) == 0)
            continue; /* an empty stop string would end every completion at once */
        r->stop[r->n_stop] = dup_bytes(json_string_value(v), json_string_length(v));
        if (!r->stop[r->n_stop++])
            return nomem(err);
    }
    return 0;
}

static int parse_logit_bias(json_t *root, const oai_limits *lim, oai_request *r, api_error *err)
{
    json_t *b = json_object_get(root, "logit_bias");
    if (!b || json_is_null(b))
        return 0;
    if (!json_is_object(b))
        return BAD("logit_bias", "'logit_bias' must be an object of token id → bias");
    size_t n = json_object_size(b);
    r->bias = malloc((n ? n : 1) * sizeof *r->bias);
    if (!r->bias)
        return nomem(err);
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(b, key, v) {
        char *end;
        errno = 0;
        long long id = strtoll(key, &end, 10);
        if (!*key || *end || errno || id < 0 || id > INT32_MAX ||
            (lim->n_vocab && (uint64_t)id >= lim->n_vocab))
            return BAD("logit_bias", "'logit_bias' key '%.64s' is not a token id of the vocabulary",
                       key);
        if (!json_is_number(v) || json_number_value(v) < -100 || json_number_value(v) > 100)
            return BAD("logit_bias", "'logit_bias' value for token %lld must be a number in "
                                     "[-100, 100]", id);
        r->bias[i].token = (int32_t)id;
        r->bias[i++].bias = (float)json_number_value(v);
    }
    r->sampling.bias = r->bias;
    r->sampling.n_bias = i;
    return 0;
}

static int parse_sampling(json_t *root, const oai_limits *lim, oai_request *r, api_error *err)
{
    sampler_config *sc = &r->sampling;
    double temp = 1.0, top_p = 1.0, min_p = 0.0, pres = 0, freq = 0, rep = 1.0;
    long long top_k = 0, seed = 0, n = 1, max_tokens = 0;
    long long max_len = lim->max_model_len ? lim->max_model_len : UINT32_MAX;
    if (get_number(root, "temperature", 0, 1e6, &temp, err) ||
        get_number(root, "top_p", 0, 1, &top_p, err) ||
        get_number(root, "min_p", 0, 1, &min_p, err) ||
        get_number(root, "presence_penalty", -2, 2, &pres, err) ||
        get_number(root, "frequency_penalty", -2, 2, &freq, err) ||
        get_number(root, "repetition_penalty", 1e-6, 1e6, &rep, err) ||
        get_int(root, "top_k", -1, INT32_MAX, &top_k, NULL, err) ||
        get_int(root, "seed", INT64_MIN, INT64_MAX, &seed, &r->seed_set, err) ||
        get_int(root, "n", 1, OAI_MAX_N, &n, NULL, err))
        return -1;
    long long best_of = n;
    if (get_int(root, "best_of", 1, OAI_MAX_N, &best_of, NULL, err))
        return -1;
    if (best_of < n)
        return BAD("best_of", "'best_of' must be greater than or equal to 'n', got n=%lld and "
                              "best_of=%lld", n, best_of);
    if (top_p <= 0)
        return BAD("top_p", "'top_p' must be in (0, 1], got 0");
    const char *mt = "max_tokens";
    if (r->kind == OAI_CHAT && json_object_get(root, "max_completion_tokens") &&
        !json_is_null(json_object_get(root, "max_completion_tokens")))
        mt = "max_completion_tokens";
    /* 0 is refused below unless echo scores the prompt (check_combinations). */
    if (get_int(root, mt, 0, INT64_MAX, &max_tokens, &r->max_tokens_set, err))
        return -1;
    if (r->max_tokens_set && max_tokens > max_len)
        return BAD(mt, "'%s' is %lld, more than the model's context length %lld", mt,
                   max_tokens, max_len);
    sc->temperature = (float)temp;
    sc->top_p = (float)top_p;
    sc->min_p = (float)min_p;
    sc->top_k = top_k < 0 ? 0 : (int32_t)top_k;
    sc->presence_penalty = (float)pres;
    sc->frequency_penalty = (float)freq;
    sc->repetition_penalty = (float)rep;
    sc->seed = (uint64_t)seed;
    r->n = (uint32_t)n;
    r->best_of = (uint32_t)best_of;
    r->max_tokens = (uint32_t)max_tokens;
    if (parse_stop(root, r, err) || parse_logit_bias(root, lim, r, err))
        return -1;
    json_t *sti = json_object_get(root, "stop_token_ids");
    if (sti && !json_is_null(sti)) {
        if (!json_is_array(sti))
            return BAD("stop_token_ids", "'stop_token_ids' must be an array of token ids");
        if (token_array(sti, "stop_token_ids", lim, &r->stop_token_ids, &sc->n_stop, err))
            return -1;
        sc->stop_tokens = r->stop_token_ids;
    }
    return 0;
}

static int parse_output_options(json_t *root, oai_request *r, api_error *err)
{
    if (get_bool(root, "stream", &r->stream, err))
        return -1;
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so))
            return BAD("stream_options", "'stream_options' must be an object");
        if (!r->stream)
            return BAD("stream_options", "'stream_options' is only allowed with stream=true");
        if (get_bool(so, "include_usage", &r->include_usage, err)) {
            snprintf(err->param, sizeof err->param, "stream_options.include_usage");
            return -1;
        }
    }
    if (r->kind == OAI_COMPLETION) {
        long long lp = -1;
        if (get_int(root, "logprobs", 0, OAI_MAX_LOGPROBS, &lp, &r->logprobs, err) ||
            get_bool(root, "echo", &r->echo, err))
            return -1;
        r->top_logprobs = lp > 0 ? (uint32_t)lp : 0;
    } else {
        long long tl = 0;
        if (get_bool(root, "logprobs", &r->logprobs, err) ||
            get_int(root, "top_logprobs", 0, OAI_MAX_LOGPROBS, &tl, NULL, err))
            return -1;
        if (tl > 0 && !r->logprobs)
            return BAD("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        r->top_logprobs = (uint32_t)tl;
    }
    json_t *salt = json_object_get(root, "cache_salt");
    if (salt && !json_is_null(salt)) {
        if (!json_is_string(salt) || json_string_length(salt) == 0)
            return BAD("cache_salt", "'cache_salt' must be a non-empty string");
        r->cache_salt = dup_bytes(json_string_value(salt), json_string_length(salt));
        if (!r->cache_salt)
            return nomem(err);
    }
    return 0;
}

/* Fields that are valid alone but not together. */
static int check_combinations(const oai_request *r, api_error *err)
{
    if (r->max_tokens_set && r->max_tokens == 0 && !r->echo)
        return BAD("max_tokens", "'max_tokens' must be at least 1 (0 only with 'echo' on "
                                 "/v1/completions, to score the prompt)");
    if (r->stream && r->best_of > r->n)
        return BAD("best_of", "'best_of' (%u) greater than 'n' (%u) cannot be streamed: the "
                              "best choices are known only once all have ended",
                   r->best_of, r->n);
    return 0;
}

int oai_request_parse(oai_kind kind, const char *body, size_t len, const oai_limits *lim,
                      oai_request *out, api_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->sampling = sampler_config_default();
    out->n = 1;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return BAD("", "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                   jerr.line, jerr.column);
    int rc = -1;
    if (!json_is_object(root)) {
        BAD("", "the body must be a JSON object");
        goto out;
    }
    json_t *model_v = json_object_get(root, "model");
    if (model_v && !json_is_null(model_v)) {
        if (!json_is_string(model_v)) {
            BAD("model", "'model' must be a string");
            goto out;
        }
        if (lim->model_name && strcmp(json_string_value(model_v), lim->model_name) != 0) {
            api_fail(err, 404, "model", "model_not_found", "The model `%.200s` does not exist.",
                     json_string_value(model_v));
            goto out;
        }
    }
    if ((kind == OAI_COMPLETION ? parse_prompt(root, lim, out, err)
                                : parse_messages(root, lim, out, err)) ||
        parse_sampling(root, lim, out, err) || parse_output_options(root, out, err) ||
        check_combinations(out, err) || structured_output_parse(root, &out->grammar, err))
        goto out;
    if (kind == OAI_CHAT && oai_tools_parse(root, lim->tool_format, out->grammar != NULL,
                                            &out->tools, &out->grammar, err))
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int oai_check_lengths(oai_request *r, size_t n_prompt, uint32_t max_model_len, api_error *err)
{
    const char *param = r->kind == OAI_COMPLETION ? "prompt" : "messages";
    if (n_prompt == 0)
        return BAD(param, "the prompt is empty");
    if (n_prompt >= max_model_len)
        return api_fail(err, 400, param, "context_length_exceeded",
                        "This model's maximum context length is %u tokens. However, your "
                        "prompt has %zu tokens, leaving no room for a completion.",
                        max_model_len, n_prompt);
    uint32_t room = max_model_len - (uint32_t)n_prompt;
    if (!r->max_tokens_set)
        r->max_tokens = r->kind == OAI_COMPLETION && room > 16 ? 16 : room;
    else if (r->max_tokens > room)
        return api_fail(err, 400, "max_tokens", "context_length_exceeded",
                        "This model's maximum context length is %u tokens. However, you "
                        "requested %zu tokens (%zu in the prompt, %u for the completion).",
                        max_model_len, n_prompt + r->max_tokens, n_prompt, r->max_tokens);
    r->sampling.max_tokens = r->max_tokens;
    return 0;
}

void oai_request_free(oai_request *r)
{
    free(r->prompt_text);
    free(r->prompt_tokens);
    for (size_t i = 0; i < r->n_messages; i++) {
        free((char *)r->messages[i].role);
        free((char *)r->messages[i].content);
    }
    free(r->messages);
    free(r->bias);
    free(r->stop_token_ids);
    for (size_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    free(r->cache_salt);
    free(r->grammar);
    oai_tools_free(&r->tools);
    memset(r, 0, sizeof *r);
}
