/* The engine's API side: creation from a GGUF file, request submission and cancellation
 * (handed to the scheduler thread through a locked queue), accessors and statistics. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "engine/gpu_ops.h"
#include "engine/histogram.h"
#include "engine/kv_sizing.h"
#include "model/model.h"
#include "model/tokenizer.h"

void engine_config_init(engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->device = BACKEND_AUTO;
    cfg->max_num_seqs = 32;
    cfg->max_num_batched_tokens = 2048;
    cfg->kv_cache_bytes = 1ull << 30;
    cfg->kv_dtype = KV_F16;
    cfg->enable_prefix_caching = true;
    cfg->kv_role = ENGINE_KV_NONE;
    cfg->chunk_size = 256;
}

static void set_name(engine *e)
{
    gguf_string gs;
    const char *path = e->cfg.model_path, *base = strrchr(path, '/');
    if (e->cfg.served_model_name)
        snprintf(e->name, sizeof e->name, "%s", e->cfg.served_model_name);
    else if (gguf_get_str(e->gf, "general.name", &gs) == 0 && gs.len > 0)
        snprintf(e->name, sizeof e->name, "%.*s", (int)(gs.len < 255 ? gs.len : 255), gs.ptr);
    else
        snprintf(e->name, sizeof e->name, "%s", base ? base + 1 : path);
    e->chat_template = gguf_dup_str(e->gf, "tokenizer.chat_template");
    e->chat_template_tool_use = gguf_dup_str(e->gf, "tokenizer.chat_template.tool_use");
}

static int alloc_buffers(engine *e, engine_error *err)
{
    uint32_t nt = e->cfg.max_num_batched_tokens, ns = e->cfg.max_num_seqs;
    uint32_t rows = ns + ENGINE_PROMPT_LOGIT_ROWS;
    e->running = calloc(ns, sizeof *e->running);
    e->free_slots = malloc(ns * sizeof *e->free_slots);
    e->b_tokens = malloc(nt * sizeof *e->b_tokens);
    e->b_pos = malloc(nt * sizeof *e->b_pos);
    e->b_seq = malloc(nt * sizeof *e->b_seq);
    e->b_rows = malloc(rows * sizeof *e->b_rows);
    e->b_out_seq = malloc(rows * sizeof *e->b_out_seq);
    e->b_out_pos = malloc(rows * sizeof *e->b_out_pos);
    e->logits = malloc((size_t)rows * e->n_vocab * sizeof *e->logits);
    e->scratch = malloc(e->n_vocab * sizeof *e->scratch);
    if (!e->running || !e->free_slots || !e->b_tokens || !e->b_pos || !e->b_seq ||
        !e->b_rows || !e->b_out_seq || !e->b_out_pos || !e->logits || !e->scratch)
        return engine_fail(err, "engine: out of memory for the batch buffers");
    for (uint32_t i = 0; i < ns; i++)
        e->free_slots[i] = ns - 1 - i;
    e->n_free_slots = ns;
    return 0;
}

static int open_model(engine *e, engine_error *err)
{
    const engine_config *c = &e->cfg;
    model_error merr;
    if (gguf_open(c->model_path, &e->gf, &merr) || model_load(e->gf, &e->m, &merr) ||
        tokenizer_load(e->gf, &e->tk, &merr))
        return engine_fail(err, "%s", merr.msg);
    int threads = c->n_threads > 0 ? c->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (backend_create(c->device, e->m, threads > 0 ? threads : 1, NULL, &e->be, &merr))
        return engine_fail(err, "%s", merr.msg);
    const model_hparams *hp = &e->m->hp;
    e->n_vocab = hp->n_vocab;
    e->max_model_len = c->max_model_len ? c->max_model_len : hp->n_ctx_train;
    if (e->max_model_len > hp->n_ctx_train)
        return engine_fail(err, "engine: max_model_len %u exceeds the model's context %u (%s)",
                          e->max_model_len, hp->n_ctx_train, c->model_path);
    set_name(e);
    return 0;
}

/* The KV pool's bytes: --kv-cache-memory, or a share of the device's memory. */
static int size_kv_pool(engine *e, uint64_t *bytes, char *how, size_t how_cap,
                        engine_error *err)
{
    const engine_config *c = &e->cfg;
    const model_hparams *hp = &e->m->hp;
    *bytes = c->kv_cache_bytes;
    if (!(c->gpu_memory_utilization > 0)) {
        snprintf(how, how_cap, "--kv-cache-memory");
        return 0;
    }
    if (!e->be->ops->mem_info) {
        snprintf(how, how_cap,
                 "--kv-cache-memory; --gpu-memory-utilization %g applies to a GPU only",
                 c->gpu_memory_utilization);
        return 0;
    }
    uint64_t free_b, total_b;
    uint64_t per_token = 2ull * hp->n_layer * hp->n_head_kv * hp->head_dim *
                         (c->kv_dtype == KV_F32 ? 4 : 2);
    model_error merr;
    if (e->be->ops->mem_info(e->be, &free_b, &total_b, &merr))
        return engine_fail(err, "%s", merr.msg);
    if (kv_sizing_from_utilization(c->gpu_memory_utilization, free_b, total_b,
                                   per_token * e->max_model_len, bytes, err))
        return -1;
    snprintf(how, how_cap, "--gpu-memory-utilization %g of %.1f GiB", c->gpu_memory_utilization,
             (double)total_b / (1u << 30));
    return 0;
}

/* The chunks' dtype: the paged cache's, or the codec's (so codecs never share a namespace). */
static kvs_dtype chunk_dtype(const engine_config *c)
{
    if (c->kv_codec == KV_CODEC_INT8)
        return KVS_DTYPE_INT8;
    if (c->kv_codec == KV_CODEC_FP8)
        return KVS_DTYPE_FP8_E4M3;
    return c->kv_dtype == KV_F32 ? KVS_DTYPE_F32 : KVS_DTYPE_F16;
}

static int open_cache(engine *e, engine_error *err)
{
    const engine_config *c = &e->cfg;
    const model_hparams *hp = &e->m->hp;
    uint64_t kv_bytes;
    char how[96];
    if (size_kv_pool(e, &kv_bytes, how, sizeof how, err) ||
        kv_paged_create(e->be, hp->n_layer, hp->n_head_kv, hp->head_dim, c->kv_dtype, kv_bytes,
                        c->max_num_seqs,
                        (e->max_model_len + KV_PAGED_BLOCK - 1) / KV_PAGED_BLOCK, &e->kv, err))
        return -1;
    snprintf(e->kv_sizing, sizeof e->kv_sizing, "%.2f GiB %s, %llu tokens (%s)",
             (double)kv_bytes / (1u << 30),
             e->be->kind == BACKEND_CUDA ? "on the device" : "in host memory",
             (unsigned long long)kv_paged_n_blocks(e->kv) * KV_PAGED_BLOCK, how);
    e->st.kv_blocks_free = kv_paged_n_free(e->kv);
    if (c->enable_prefix_caching && prefix_cache_create(e->kv, &e->pc, err))
        return -1;
    kvs_namespace_desc *d = &e->ns_desc;
    memcpy(d->model_fingerprint, gguf_fingerprint(e->gf), sizeof d->model_fingerprint);
    d->layout = (kvs_layout){hp->n_layer, hp->n_head_kv, hp->head_dim, chunk_dtype(c)};
    d->rope_type = (uint32_t)hp->rope_style; /* ggml's rope type: 0 adjacent pairs, 2 NeoX */
    d->rope_dim = hp->n_rot;
    d->rope_freq_base = hp->rope_base;
    d->rope_freq_scale = 1.0f;
    d->layout_version = 1;
    d->tp_rank = 0;
    d->tp_size = 1;
    if (c->kv_role != ENGINE_KV_NONE) {
        if (!c->offload)
            return engine_fail(err, "engine: kv_role needs an offload configuration");
        if (c->kv_codec != KV_CODEC_NONE && e->be->kind == BACKEND_CUDA)
            return engine_fail(err, "engine: kv_codec %s is not available with the KV cache "
                                    "on the GPU in this build (use kv_codec none, or --device cpu)",
                               kv_codec_name(c->kv_codec));
        if (c->kv_codec != KV_CODEC_NONE && hp->head_dim > KV_CODEC_HEAD_MAX)
            return engine_fail(err, "engine: kv_codec %s takes heads of at most %d values, "
                                    "the model's have %u", kv_codec_name(c->kv_codec),
                               KV_CODEC_HEAD_MAX, hp->head_dim);
        /* A KV cache on the GPU lends the cache library its device (pinned staging,
         * GPUDirect Storage). */
        e->offload = *c->offload;
        if (e->be->kind == BACKEND_CUDA)
            e->offload.gpu = engine_gpu_ops(e->be);
        e->cfg.offload = &e->offload;
        if (connector_create(c, e->be, e->kv, &d->layout, &e->est, &e->conn, err))
            return -1;
        e->rates = e->est;
    }
    return 0;
}

int engine_create(const engine_config *cfg, engine **out, engine_error *err)
{
    *out = NULL;
    if (!cfg->model_path)
        return engine_fail(err, "engine: no model path");
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return engine_fail(err, "engine: out of memory");
    e->cfg = *cfg;
    if (!e->cfg.max_num_seqs)
        e->cfg.max_num_seqs = 32;
    if (!e->cfg.max_num_batched_tokens)
        e->cfg.max_num_batched_tokens = 2048;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->trie_mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    kvs_stats no_tiers = {0};
    load_est_init(&e->est, &no_tiers); /* the prefill prior; the tiers' come with the cache */
    e->rates = e->est;
    histogram_init(&e->st.ttft, 0.001, 2.0);
    histogram_init(&e->st.inter_token, 0.001, 2.0);
    histogram_init(&e->st.ttft_cached, 0.001, 2.0);
    histogram_init(&e->st.ttft_cold, 0.001, 2.0);
    e->cfg.served_model_name = cfg->served_model_name;
    if (open_model(e, err) || open_cache(e, err) || alloc_buffers(e, err) ||
        scheduler_start(e, err)) {
        engine_destroy(e);
        return -1;
    }
    e->cfg.served_model_name = e->name;
    e->cfg.model_path = NULL; /* the caller's string need not outlive this call */
    *out = e;
    return 0;
}

void engine_destroy(engine *e)
{
    if (!e)
        return;
    scheduler_stop(e);
    connector_destroy(e->conn);
    prefix_cache_destroy(e->pc);
    if (e->kv)
        kv_cache_destroy(kv_paged_cache(e->kv));
    backend_destroy(e->be); /* after everything in its memory */
    tokenizer_free(e->tk);
    model_free(e->m);
    gguf_close(e->gf);
    free(e->chat_template);
    free(e->chat_template_tool_use);
    free(e->cancels);
    free(e->running);
    free(e->free_slots);
    free(e->b_tokens);
    free(e->b_pos);
    free(e->b_seq);
    free(e->b_rows);
    free(e->b_out_pos);
    free(e->b_out_seq);
    free(e->logits);
    free(e->scratch);
    engine_token_trie_free(e);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->trie_mu);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

const char *engine_model_name(const engine *e) { return e->name; }
const tokenizer *engine_tokenizer(const engine *e) { return e->tk; }
const model *engine_model(const engine *e) { return e->m; }
const char *engine_device_name(const engine *e) { return e->be->device_name; }
const char *engine_kv_cache_sizing(const engine *e) { return e->kv_sizing; }
uint32_t engine_max_model_len(const engine *e) { return e->max_model_len; }
const char *engine_chat_template(const engine *e) { return e->chat_template; }
void engine_cache_keying(const engine *e, kvs_namespace_desc *desc, uint32_t *chunk_tokens)
{
    *desc = e->ns_desc;
    desc->cache_salt = NULL;
    *chunk_tokens = e->cfg.chunk_size;
}
const char *engine_chat_template_tool_use(const engine *e) { return e->chat_template_tool_use; }

const char *engine_offload_tier_name(const engine *e, unsigned i)
{
    return e->conn ? connector_tier_name(e->conn, i) : NULL;
}

static int new_seq(engine *e, const engine_request *req, eng_seq **out, engine_error *err)
{
    eng_seq *s = calloc(1, sizeof *s);
    if (!s)
        return engine_fail(err, "engine: out of memory");
    s->slot = ENGINE_NO_SLOT;
    s->cap_tokens = e->max_model_len + 1;
    s->tokens = malloc(s->cap_tokens * sizeof *s->tokens);
    s->hashes = malloc((s->cap_tokens / KV_PAGED_BLOCK + 1) * sizeof *s->hashes);
    s->stops = malloc((req->sampling.n_stop + 1) * sizeof *s->stops);
    if (!s->tokens || !s->hashes || !s->stops) {
        eng_seq_free(s);
        return engine_fail(err, "engine: out of memory for a request of %zu tokens",
                          req->n_prompt);
    }
    model_error merr;
    if (sampler_create(&req->sampling, e->n_vocab, &s->smp, &merr)) {
        eng_seq_free(s);
        return engine_fail(err, "%s", merr.msg);
    }
    if (req->grammar) {
        grammar_error gerr;
        if (engine_token_trie(e, err) ||
            (grammar_parse(req->grammar, req->grammar_len, &s->gr, &gerr) && engine_fail(err, "%s", gerr.msg)) ||
            (grammar_matcher_create(s->gr, &s->gm, &gerr) && engine_fail(err, "%s", gerr.msg)) ||
            (!(s->gmask = malloc((e->n_vocab + 63) / 64 * sizeof *s->gmask)) &&
             engine_fail(err, "engine: out of memory for a grammar's token mask"))) {
            eng_seq_free(s);
            return -1;
        }
    }
    kvs_namespace_desc d = e->ns_desc;
    d.cache_salt = req->cache_salt;
    kvs_error kerr;
    if (kvs_namespace_id(&d, &s->ns, &kerr) != KVS_OK) {
        eng_seq_free(s);
        return engine_fail(err, "engine: cache namespace: %s", kerr.msg);
    }
    memcpy(s->tokens, req->prompt, req->n_prompt * sizeof *s->tokens);
    s->n_tokens = s->n_prompt = (uint32_t)req->n_prompt;
    for (uint32_t i = 0; i < s->n_prompt; i++)
        sampler_accept(s->smp, s->tokens[i]);
    if (req->sampling.n_stop)
        memcpy(s->stops, req->sampling.stop_tokens, req->sampling.n_stop * sizeof *s->stops);
    s->n_stops = req->sampling.n_stop;
    s->max_tokens = req->sampling.max_tokens;
    s->top_logprobs = req->top_logprobs;
    s->prompt_logprobs = req->prompt_logprobs;
    s->prompt_only = req->prompt_only;
    s->prompt_lp_next = 1;
    s->on_event = req->on_event;
    s->user = req->user;
    *out = s;
    return 0;
}

int engine_submit(engine *e, const engine_request *req, uint64_t *request_id, engine_error *err)
{
    if (!req->prompt || req->n_prompt == 0)
        return engine_fail(err, "request: empty prompt");
    if (req->n_prompt > e->max_model_len)
        return engine_fail(err, "request: prompt of %zu tokens exceeds max_model_len %u",
                          req->n_prompt, e->max_model_len);
    if (!req->on_event)
        return engine_fail(err, "request: no event callback");
    if (req->top_logprobs > ENGINE_MAX_TOP_LOGPROBS)
        return engine_fail(err, "request: top_logprobs %u is over the limit %d",
                           req->top_logprobs, ENGINE_MAX_TOP_LOGPROBS);
    for (size_t i = 0; i < req->n_prompt; i++)
        if (req->prompt[i] < 0 || (uint32_t)req->prompt[i] >= e->n_vocab)
            return engine_fail(err, "request: token %d at %zu outside the vocabulary (%u)",
                              req->prompt[i], i, e->n_vocab);
    eng_seq *s;
    if (new_seq(e, req, &s, err))
        return -1;
    pthread_mutex_lock(&e->mu);
    if (e->shutdown) {
        pthread_mutex_unlock(&e->mu);
        eng_seq_free(s);
        return engine_fail(err, "engine: shutting down");
    }
    s->id = ++e->next_id;
    *request_id = s->id;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->t_submit = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    if (e->in_tail)
        e->in_tail->next = s;
    else
        e->in_head = s;
    e->in_tail = s;
    e->st.requests_total++;
    e->st.prompt_tokens_total += s->n_prompt;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void engine_cancel(engine *e, uint64_t request_id)
{
    pthread_mutex_lock(&e->mu);
    if (e->n_cancels == e->cap_cancels) {
        size_t cap = e->cap_cancels ? 2 * e->cap_cancels : 16;
        uint64_t *g = realloc(e->cancels, cap * sizeof *g);
        if (!g) { /* the request then simply runs to its end */
            pthread_mutex_unlock(&e->mu);
            return;
        }
        e->cancels = g;
        e->cap_cancels = cap;
    }
    e->cancels[e->n_cancels++] = request_id;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void engine_get_stats(engine *e, engine_stats *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->st;
    pthread_mutex_unlock(&e->mu);
    out->kv_blocks_total = kv_paged_n_blocks(e->kv);
    if (e->conn)
        connector_stats(e->conn, out);
}

int engine_lookup_prefix(engine *e, const int32_t *tokens, size_t n_tokens,
                         const char *cache_salt, engine_prefix_lookup *out, engine_error *err)
{
    /* Asked once per routed request: the counters only, not engine_get_stats's copy of
     * every histogram and every tier's statistics. */
    memset(out, 0, sizeof *out);
    if (n_tokens > UINT32_MAX)
        return engine_fail(err, "lookup: %zu tokens", n_tokens);
    pthread_mutex_lock(&e->mu);
    out->running = e->st.requests_running;
    out->waiting = e->st.requests_waiting;
    out->kv_blocks_free = e->st.kv_blocks_free;
    out->prefill_queued_tokens = e->prefill_queued;
    /* Submitted since the scheduler last looked: queued too, though not yet counted. */
    for (const eng_seq *s = e->in_head; s; s = s->next)
        out->prefill_queued_tokens += s->n_tokens;
    out->decode_running = e->decode_running;
    load_est rates = e->rates;
    pthread_mutex_unlock(&e->mu);
    out->prefill_tps = rates.compute_tps;
    out->prefill_tps_measured = rates.compute_measured;
    memcpy(out->tier_load_bps, rates.tier_bps, sizeof out->tier_load_bps);
    out->kv_blocks_total = kv_paged_n_blocks(e->kv);
    kvs_namespace_desc d = e->ns_desc;
    d.cache_salt = cache_salt;
    kvs_key ns;
    kvs_error kerr;
    if (kvs_namespace_id(&d, &ns, &kerr) != KVS_OK)
        return engine_fail(err, "lookup: cache namespace: %s", kerr.msg);
    if (e->pc && n_tokens > KV_PAGED_BLOCK) {
        /* As admission looks: at most (n - 1) / 16 blocks, the last token always computed. */
        uint32_t max_hit = (uint32_t)(n_tokens - 1) / KV_PAGED_BLOCK;
        kvs_key *hashes = malloc((size_t)max_hit * sizeof *hashes);
        if (!hashes)
            return engine_fail(err, "lookup: out of memory for %u block hashes", max_hit);
        uint32_t n_hashes =
            prefix_hash_extend(&ns, tokens, max_hit * KV_PAGED_BLOCK, hashes, 0);
        out->resident_tokens =
            prefix_cache_count_prefix(e->pc, hashes, n_hashes) * KV_PAGED_BLOCK;
        free(hashes);
    }
    if (e->conn) {
        out->chunk_tokens = e->cfg.chunk_size;
        const char *name;
        while (out->n_tiers < KVS_MAX_TIERS &&
               (name = connector_tier_name(e->conn, (unsigned)out->n_tiers)))
            snprintf(out->tier_names[out->n_tiers++], sizeof out->tier_names[0], "%s", name);
        if (connector_lookup_prefix(e->conn, &ns, tokens, (uint32_t)n_tokens, out->tier_tokens,
                                    err))
            return -1;
    }
    uint64_t cached = 0;
    double load_s = 0;
    for (size_t t = 0; t < out->n_tiers; t++) {
        cached += out->tier_tokens[t];
        if (strcmp(out->tier_names[t], "mem") != 0 && out->tier_tokens[t])
            load_s += (double)kvs_payload_bytes(&e->ns_desc.layout, out->tier_tokens[t]) /
                      out->tier_load_bps[t];
    }
    /* Blocks still resident need no load: the tiers' share of the prefix beyond them is
     * what would be read (which tier holds which chunk is not known, only how many). */
    uint64_t resident = out->resident_tokens;
    load_s = cached > resident ? load_s * (double)(cached - resident) / (double)cached : 0;
    uint64_t held = cached > resident ? cached : resident;
    uint64_t uncached = held < n_tokens ? n_tokens - held : 0;
    out->estimated_ttft_s = ttft_estimate_s(&rates, out->prefill_queued_tokens, uncached,
                                            out->decode_running,
                                            e->cfg.max_num_batched_tokens, load_s);
    return 0;
}
