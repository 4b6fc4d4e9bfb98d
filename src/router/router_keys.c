/* The chunk chain keys of a request, as the replicas' connector computes them. */
#include "router/router_keys.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/prompt.h"
#include "server/tool_parse.h"

int router_keys_load(router_keys *k, const char *path, const char *override, model_error *err)
{
    memset(k, 0, sizeof *k);
    model_error e;
    if (gguf_open(path, &k->gf, &e)) /* its message names the file */
        return model_fail(err, "--model: %s", e.msg);
    if (tokenizer_load(k->gf, &k->tk, &e)) {
        gguf_close(k->gf);
        k->tk = NULL;
        return model_fail(err, "--model %s: %s", path, e.msg);
    }
    char *tmpl = gguf_dup_str(k->gf, "tokenizer.chat_template");
    char *tool_use = gguf_dup_str(k->gf, "tokenizer.chat_template.tool_use");
    int rc = prompt_template_load(&k->tmpl, k->tk, tmpl, tool_use, override, &e);
    /* no request limit is the router's to enforce: the replica answers those */
    k->lim = (oai_limits){.n_vocab = tokenizer_n_vocab(k->tk),
                          .tool_format = tool_format_detect(tmpl, false)};
    free(tmpl);
    free(tool_use);
    if (rc || pthread_mutex_init(&k->mu, NULL)) {
        if (!rc)
            chat_template_free(&k->tmpl);
        tokenizer_free(k->tk);
        gguf_close(k->gf);
        k->tk = NULL;
        return rc ? model_fail(err, "--model %s: %s", path, e.msg)
                  : model_fail(err, "router: cannot make the keys' lock");
    }
    return 0;
}

void router_keys_free(router_keys *k)
{
    if (!k->tk)
        return;
    chat_template_free(&k->tmpl);
    tokenizer_free(k->tk);
    gguf_close(k->gf);
    pthread_mutex_destroy(&k->mu);
}

bool router_keys_ready(router_keys *k)
{
    pthread_mutex_lock(&k->mu);
    bool ready = k->keyed;
    pthread_mutex_unlock(&k->mu);
    return ready;
}

int router_keys_set_keying(router_keys *k, const char *json, size_t len, model_error *err)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_int_t chunk, layers, heads, dim, dtype, rtype, rdim, lver, rank, size;
    double base, scale;
    const char *fp_hex, *ns_hex;
    kvs_namespace_desc d = {0};
    kvs_key fp, ns, want;
    kvs_error kerr;
    int bad = !root ||
              json_unpack(root, "{s:I, s:s, s:{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:F, s:F, s:I, "
                                "s:I, s:I}}",
                          "chunk_tokens", &chunk, "namespace_id", &ns_hex, "namespace",
                          "model_fingerprint", &fp_hex, "n_layers", &layers, "n_kv_heads",
                          &heads, "head_dim", &dim, "dtype", &dtype, "rope_type", &rtype,
                          "rope_dim", &rdim, "rope_freq_base", &base, "rope_freq_scale",
                          &scale, "layout_version", &lver, "tp_rank", &rank, "tp_size", &size) ||
              chunk < 1 || chunk > KVS_CHUNK_MAX_TOKENS || dtype < 0 ||
              dtype >= KVS_DTYPE_COUNT || kvs_key_parse(fp_hex, &fp) != KVS_OK ||
              kvs_key_parse(ns_hex, &want) != KVS_OK;
    if (!bad) {
        memcpy(d.model_fingerprint, fp.b, sizeof d.model_fingerprint);
        d.layout = (kvs_layout){(uint32_t)layers, (uint32_t)heads, (uint32_t)dim,
                                (kvs_dtype)dtype};
        d.rope_type = (uint32_t)rtype;
        d.rope_dim = (uint32_t)rdim;
        d.rope_freq_base = (float)base;
        d.rope_freq_scale = (float)scale;
        d.layout_version = (uint32_t)lver;
        d.tp_rank = (uint32_t)rank;
        d.tp_size = (uint32_t)size;
    }
    json_decref(root);
    if (bad)
        return model_fail(err, "/kvspill/keying: not a keying answer");
    if (kvs_namespace_id(&d, &ns, &kerr) != KVS_OK)
        return model_fail(err, "/kvspill/keying: %s", kerr.msg);
    if (!kvs_key_equal(&ns, &want)) /* a field lost on the way */
        return model_fail(err, "/kvspill/keying: the description does not give the "
                               "replica's namespace id");
    pthread_mutex_lock(&k->mu);
    k->desc = d;
    k->chunk_tokens = (uint32_t)chunk;
    k->keyed = true;
    pthread_mutex_unlock(&k->mu);
    return 0;
}

/* How many messages make the conversation prefix: through the first that is not a system
 * message (all of them when every one is). */
static size_t prefix_messages(const oai_request *r)
{
    for (size_t i = 0; i < r->n_messages; i++)
        if (strcmp(r->messages[i].role, "system") != 0)
            return i + 1;
    return r->n_messages;
}

int router_keys_route_key(router_keys *k, const char *body, size_t len, bool chat,
                          unsigned blocks, kvs_key *key, size_t *n_chunks, model_error *err)
{
    pthread_mutex_lock(&k->mu);
    bool keyed = k->keyed;
    kvs_namespace_desc d = k->desc;
    uint32_t chunk = k->chunk_tokens;
    pthread_mutex_unlock(&k->mu);
    if (!keyed)
        return model_fail(err, "no replica has said how it names its chunks yet");
    oai_request r;
    memset(&r, 0, sizeof r);
    api_error aerr;
    token_ids ids = {0};
    if (oai_request_parse(chat ? OAI_CHAT : OAI_COMPLETION, body, len, &k->lim, &r, &aerr)) {
        oai_request_free(&r);
        return model_fail(err, "request: %s", aerr.message);
    }
    bool conversation = chat && !r.tools.messages;
    int rc = prompt_tokens(k->tk, &k->tmpl, &r, conversation ? prefix_messages(&r) : r.n_messages,
                           !conversation, &ids, &aerr);
    d.cache_salt = r.cache_salt;
    kvs_error kerr;
    if (rc == 0 && kvs_namespace_id(&d, key, &kerr) != KVS_OK)
        rc = model_fail(err, "cache namespace: %s", kerr.msg);
    else if (rc)
        model_fail(err, "request: %s", aerr.message);
    oai_request_free(&r);
    if (rc) {
        token_ids_free(&ids);
        return -1;
    }
    size_t full = ids.n / chunk, partial = ids.n % chunk;
    if (!conversation) {
        if (full > blocks)
            full = blocks;
        if (full)
            partial = 0;
    }
    for (size_t i = 0; i < full; i++)
        kvs_key_next(key, ids.ids + i * chunk, chunk, key);
    if (partial)
        kvs_key_next(key, ids.ids + full * chunk, partial, key);
    *n_chunks = full + (partial > 0);
    token_ids_free(&ids);
    return 0;
}
