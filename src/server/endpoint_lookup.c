/* POST /kvspill/lookup: how much of a request's prompt this replica's offload tiers hold,
 * and its paged KV cache still holds (resident_tokens), and how loaded it is, for `kvspill router --routing-logic kvaware` (docs/router.md). The
 * body is the completion or chat request itself (the router forwards the client's body);
 * the prompt is rendered and tokenized as the request would be, then only looked up.
 * GET /kvspill/keying: what names this replica's chunks (the namespace description and
 * the chunk size), for the router's prefixaware logic to compute the same chunk keys. */
#include <string.h>

#include "server/server.h"

void ep_kvspill_lookup(server *s, const http_request *req, http_response *resp)
{
    api_error err;
    oai_request r;
    memset(&r, 0, sizeof r);
    token_ids ids = {0};
    oai_limits lim = server_limits(s);
    json_t *root = json_loadb(req->body, req->body_len, 0, NULL);
    oai_kind kind = root && json_object_get(root, "messages") ? OAI_CHAT : OAI_COMPLETION;
    json_decref(root);
    engine_prefix_lookup look;
    engine_error eerr;
    int rc = oai_request_parse(kind, req->body, req->body_len, &lim, &r, &err) ||
             server_prompt_tokens(s, &r, true, &ids, &err);
    if (!rc && engine_lookup_prefix(s->e, ids.ids, ids.n, r.cache_salt, &look, &eerr))
        rc = api_fail(&err, 500, NULL, NULL, "%s", eerr.msg);
    oai_request_free(&r);
    if (rc) {
        token_ids_free(&ids);
        server_reply_error(resp, &err);
        return;
    }
    json_t *tiers = json_object(), *rates = json_object();
    for (size_t i = 0; tiers && rates && i < look.n_tiers; i++) {
        json_object_set_new(tiers, look.tier_names[i], json_integer(look.tier_tokens[i]));
        json_object_set_new(rates, look.tier_names[i], json_real(look.tier_load_bps[i]));
    }
    server_reply_json(
        resp, 200,
        json_pack("{s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:o, s:f}",
                  "prompt_tokens", (json_int_t)ids.n, "chunk_tokens",
                  (json_int_t)look.chunk_tokens, "cached_tokens", tiers, "resident_tokens",
                  (json_int_t)look.resident_tokens, "running",
                  (json_int_t)look.running, "waiting", (json_int_t)look.waiting,
                  "kv_blocks_total", (json_int_t)look.kv_blocks_total, "kv_blocks_free",
                  (json_int_t)look.kv_blocks_free, "prefill_queued_tokens",
                  (json_int_t)look.prefill_queued_tokens, "decode_running",
                  (json_int_t)look.decode_running, "prefill_tokens_per_s", look.prefill_tps,
                  "prefill_rate_measured", look.prefill_tps_measured, "load_bytes_per_s", rates,
                  "estimated_ttft_s", look.estimated_ttft_s));
    token_ids_free(&ids);
}

void ep_kvspill_keying(server *s, const http_request *req, http_response *resp)
{
    (void)req;
    kvs_namespace_desc d;
    uint32_t chunk;
    engine_cache_keying(s->e, &d, &chunk);
    kvs_key fp, ns;
    memcpy(fp.b, d.model_fingerprint, sizeof fp.b);
    char fp_hex[KVS_KEY_HEX_LEN + 1], ns_hex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(&fp, fp_hex);
    kvs_error kerr;
    if (kvs_namespace_id(&d, &ns, &kerr) != KVS_OK) {
        api_error err;
        (void)api_fail(&err, 500, NULL, NULL, "cache namespace: %s", kerr.msg);
        server_reply_error(resp, &err);
        return;
    }
    kvs_key_hex(&ns, ns_hex);
    server_reply_json(
        resp, 200,
        json_pack("{s:I, s:s, s:{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I}}",
                  "chunk_tokens", (json_int_t)chunk, "namespace_id", ns_hex, "namespace",
                  "model_fingerprint", fp_hex, "n_layers", (json_int_t)d.layout.n_layers,
                  "n_kv_heads", (json_int_t)d.layout.n_kv_heads, "head_dim",
                  (json_int_t)d.layout.head_dim, "dtype", (json_int_t)d.layout.dtype,
                  "rope_type", (json_int_t)d.rope_type, "rope_dim", (json_int_t)d.rope_dim,
                  "rope_freq_base", (double)d.rope_freq_base, "rope_freq_scale",
                  (double)d.rope_freq_scale, "layout_version", (json_int_t)d.layout_version,
                  "tp_rank", (json_int_t)d.tp_rank, "tp_size", (json_int_t)d.tp_size));
}
