/* The serving engine (ARCHITECTURE.md §2, §5): a loaded model, a paged KV cache with automatic
 * prefix caching, a scheduler thread doing continuous batching, and the connector to the
 * KV offload library. The server submits requests as token ids and receives events.
 *
 * Threading: engine_submit, engine_cancel and engine_stats may be called from any thread.
 * Events are delivered on the engine's scheduler thread, in order per request; the callback
 * must not block (queue the event and return). After an event with done = true, no more
 * events arrive for that request and its id is no longer valid. */
#ifndef KVSPILL_ENGINE_ENGINE_H
#define KVSPILL_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvspill.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "engine/engine_error.h"
#include "model/sampler.h"

typedef struct engine engine;
typedef struct tokenizer tokenizer;
typedef struct model model;

/* kv_role of --kv-transfer-config (LMCacheConnectorV1 semantics). */
typedef enum engine_kv_role {
    ENGINE_KV_NONE = 0, /* no offload */
    ENGINE_KV_BOTH,     /* load and store */
    ENGINE_KV_PRODUCER, /* store only */
    ENGINE_KV_CONSUMER, /* load only */
} engine_kv_role;

typedef struct engine_config {
    const char *model_path;
    const char *served_model_name;  /* NULL: the file's general.name or its base name */
    backend_kind device;            /* where the forward pass and the KV cache run
                                       (BACKEND_AUTO default: CUDA when built and present) */
    int n_threads;                  /* forward-pass threads on the CPU (0: all cores) */
    uint32_t max_model_len;         /* prompt + generated tokens per request (0: the model's context) */
    uint32_t max_num_seqs;          /* sequences running at once (default 32) */
    uint32_t max_num_batched_tokens;/* tokens per scheduler step: the chunked-prefill budget */
    uint64_t kv_cache_bytes;        /* memory for the paged KV cache */
    double gpu_memory_utilization;  /* > 0: on a GPU, size the KV cache to this fraction of
                                       device memory less what is in use (kv_sizing.h),
                                       instead of kv_cache_bytes; 0 = unset */
    kv_dtype kv_dtype;              /* KV_F16 default */
    bool enable_prefix_caching;     /* in-memory block reuse (vLLM APC) */
    engine_kv_role kv_role;         /* offload connector; ENGINE_KV_NONE disables it */
    const kvs_config *offload;      /* tiers for the connector (NULL with ENGINE_KV_NONE);
                                       copied, with .gpu set on a CUDA backend */
    /* The connector's settings, LMCache's keys (engine_offload_settings_from_env): */
    uint32_t chunk_size;            /* tokens per chunk (chunk_size, default 256) */
    bool save_unfull_chunk;         /* also store a prompt's trailing partial chunk once
                                       its prefill completes, keyed as kvs_chunk_keys with
                                       include_partial, and look it up (default false) */
    bool save_decode_cache;         /* also store chunks produced while decoding */
    kv_codec kv_codec;              /* how chunks are written to the tiers (kv_codec,
                                       default none; int8 and fp8 on the CPU backend) */
    bool offload_always_load;       /* load every offload hit, skipping the load-or-compute
                                       estimate (tests, tier benchmarks) */
} engine_config;

/* vLLM-like defaults; model_path still to be set. */
void engine_config_init(engine_config *cfg);
/* Reads the connector's settings (chunk_size, save_unfull_chunk, save_decode_cache, kv_codec) from
 * the LMCache sources the library reads its tiers' from: LMCACHE_CONFIG_FILE, else the
 * LMCACHE_* variables, over what cfg holds. */
int engine_offload_settings_from_env(engine_config *cfg, engine_error *err) ENGINE_MUST_CHECK;

int engine_create(const engine_config *cfg, engine **out, engine_error *err) ENGINE_MUST_CHECK;
/* Cancels running requests (each gets its final event), flushes queued stores, frees. */
void engine_destroy(engine *e);

const char *engine_model_name(const engine *e);
const tokenizer *engine_tokenizer(const engine *e);
const model *engine_model(const engine *e);
/* The backend's device_name: "cpu (avx512, 2 threads)", "NVIDIA H200 (sm_90, 139 GiB)". */
const char *engine_device_name(const engine *e);
/* "2.0 GiB on the device, 43690 tokens (--gpu-memory-utilization 0.85 of 79.6 GiB)". */
const char *engine_kv_cache_sizing(const engine *e);
uint32_t engine_max_model_len(const engine *e);
/* Chat template family rendering is in model/chat_template.h; this is the GGUF's text. */
const char *engine_chat_template(const engine *e);
/* The named variant tokenizer.chat_template.tool_use (NULL when absent). */
const char *engine_chat_template_tool_use(const engine *e);
/* The name of offload tier i ("mem", "local_disk", "gds", "redis"), NULL past the last or
 * without offload. */
const char *engine_offload_tier_name(const engine *e, unsigned i);

typedef enum engine_finish {
    ENGINE_FINISH_NONE = 0,
    ENGINE_FINISH_STOP,      /* a stop/EOS token */
    ENGINE_FINISH_LENGTH,    /* max_tokens or max_model_len */
    ENGINE_FINISH_CANCELLED, /* engine_cancel or shutdown */
    ENGINE_FINISH_ERROR,     /* see message */
} engine_finish;

/* Where a request's cached prompt tokens came from (the kvspill response extension). */
typedef struct engine_cached_by {
    uint32_t prefix_cache;             /* blocks still in the in-memory prefix cache */
    uint32_t tier[KVS_MAX_TIERS];      /* loaded from each offload tier, by its index in
                                          kvs_stats.tiers (engine_offload_tier_name) */
} engine_cached_by;

#define ENGINE_MAX_TOP_LOGPROBS 20

/* A token and its log-softmax over the raw logits (temperature 1, before bias, penalties
 * and the grammar mask), as OpenAI and vLLM report logprobs. */
typedef struct engine_alt {
    int32_t token;
    float logprob;
} engine_alt;

typedef struct engine_event {
    uint64_t request_id;
    bool has_token;           /* a new generated token */
    bool is_prompt;           /* instead: the logprob of prompt token prompt_index (from 1
                                 on; engine_request.prompt_logprobs), in token and logprob */
    uint32_t prompt_index;
    int32_t token;
    float logprob;            /* log-softmax of the token (engine_alt) */
    const engine_alt *top;    /* the request's top_logprobs most likely tokens at this
                                 position, most likely first; valid during the callback */
    uint32_t n_top;
    bool done;
    engine_finish finish;
    const char *message;      /* for ENGINE_FINISH_ERROR */
    /* Usage, valid in every event: */
    uint32_t prompt_tokens;
    uint32_t cached_tokens;   /* prompt tokens not computed: prefix cache + offload hits */
    engine_cached_by cached_by; /* the same tokens by their source */
    uint32_t completion_tokens;
} engine_event;

typedef void (*engine_event_fn)(void *user, const engine_event *ev);

typedef struct engine_request {
    const int32_t *prompt;    /* copied */
    size_t n_prompt;
    sampler_config sampling;  /* arrays copied; max_tokens 0 = up to max_model_len */
    const char *cache_salt;   /* tenant isolation of both prefix caches; NULL = none */
    const char *grammar;      /* GBNF (grammar/grammar.h) the output must match, copied into
                                 the request's matcher; NULL = free text. Tokens the grammar
                                 refuses are masked before sampling, an end-of-generation
                                 token only once the output is complete, and generation
                                 stops when nothing can follow. */
    size_t grammar_len;
    uint32_t top_logprobs;    /* alternatives reported per position, 0..ENGINE_MAX_TOP_LOGPROBS */
    bool prompt_logprobs;     /* also an event per prompt token from the second on: the
                                 whole prompt is computed (no prefix-cache or offload hits),
                                 since cached positions have no logits */
    bool prompt_only;         /* compute the prompt and generate nothing (scoring it): the
                                 final event has finish ENGINE_FINISH_LENGTH */
    engine_event_fn on_event;
    void *user;
} engine_request;

/* Queues a request. Fails (no events follow) on invalid input: empty prompt, prompt longer
 * than max_model_len, tokens outside the vocabulary, a grammar that does not parse,
 * top_logprobs over ENGINE_MAX_TOP_LOGPROBS, engine shutting down. */
int engine_submit(engine *e, const engine_request *req, uint64_t *request_id,
                  engine_error *err) ENGINE_MUST_CHECK;
/* Asks the scheduler to drop a request (client went away); its final event follows. */
void engine_cancel(engine *e, uint64_t request_id);

#define ENGINE_HIST_BUCKETS 16

typedef struct engine_histogram {
    double bounds[ENGINE_HIST_BUCKETS]; /* upper bounds in seconds; unused ones are 0 */
    uint64_t counts[ENGINE_HIST_BUCKETS + 1]; /* last: +Inf */
    double sum;
    uint64_t count;
} engine_histogram;

typedef struct engine_stats {
    uint64_t requests_total, requests_running, requests_waiting;
    uint64_t prompt_tokens_total, generation_tokens_total;
    uint64_t prefix_cache_queries, prefix_cache_hits; /* tokens, in-memory APC */
    uint64_t offload_hit_tokens, offload_loaded_tokens, offload_stored_chunks;
    uint64_t preemptions;
    uint64_t kv_blocks_total, kv_blocks_free;
    engine_histogram ttft, inter_token, offload_load, offload_store;
    engine_histogram ttft_cached, ttft_cold; /* ttft split: some prompt tokens cached, none */
    kvs_stats offload;        /* zeroed when the connector is off */
} engine_stats;

void engine_get_stats(engine *e, engine_stats *out);

/* What a router weighs choosing this replica for a prompt (kvaware, docs/router.md): the
 * tokens of its prefix still resident in the paged KV cache (the prefix cache) and those
 * each offload tier holds, the load, and this replica's own estimate of the prompt's time
 * to first token, with held = max(resident, the tiers' sum):
 *
 *   estimated_ttft_s = (prefill + steps × decode_running) / prefill_tps
 *                      + sum over the tiers slower than host RAM of
 *                        the prompt's bytes there / that tier's load rate,
 *                        times the share of the tiers' tokens beyond the resident ones
 *
 * where prefill = prefill_queued_tokens + n_tokens - held, and steps = the scheduler steps
 * that prefill takes beside a token of each decoding sequence (ttft_estimate_s).
 *
 * The rates are measured (moving averages of prefill steps and of loads); until a first
 * prefill step, prefill_tps is the load-or-compute prior (load_plan.h) and
 * prefill_tps_measured is false; a tier not yet loaded from has its prior. */
typedef struct engine_prefix_lookup {
    uint32_t chunk_tokens;
    size_t n_tiers;
    char tier_names[KVS_MAX_TIERS][16];   /* as kvs_tier_stats.name */
    uint32_t tier_tokens[KVS_MAX_TIERS];  /* full chunks, at the fastest tier holding each */
    double tier_load_bps[KVS_MAX_TIERS];  /* bytes/s loading from each tier */
    uint64_t resident_tokens;             /* full blocks the prefix cache would reuse */
    uint64_t running, waiting;
    uint64_t kv_blocks_total, kv_blocks_free;
    /* Prompt tokens still to compute: requests not admitted yet (whole: their cache hits
     * are found at admission), running sequences' tokens not yet prefilled. */
    uint64_t prefill_queued_tokens;
    uint64_t decode_running;              /* running sequences past their prompt */
    double prefill_tps;
    bool prefill_tps_measured;
    double estimated_ttft_s;
} engine_prefix_lookup;

/* What names this engine's chunks in the cache: the namespace description (cache_salt
 * NULL; a request's salt goes in before kvs_namespace_id) and the tokens per chunk. A
 * router that computes a prompt's chunk keys (kvs_key_next) from these gets the keys this
 * engine stores. */
void engine_cache_keying(const engine *e, kvs_namespace_desc *desc, uint32_t *chunk_tokens);

/* A lookup only (nothing loaded), safe from any thread. With offload off, every tier count
 * is 0 and n_tiers is 0; with prefix caching off, resident_tokens is 0. */
int engine_lookup_prefix(engine *e, const int32_t *tokens, size_t n_tokens,
                         const char *cache_salt, engine_prefix_lookup *out,
                         engine_error *err) ENGINE_MUST_CHECK;

#endif
