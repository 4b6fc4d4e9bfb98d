/* What engine.c (the API side) and scheduler.c (the scheduler thread) share. */
#ifndef KVSPILL_ENGINE_INTERNAL_H
#define KVSPILL_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/connector.h"
#include "engine/engine.h"
#include "engine/kv_paged.h"
#include "engine/load_plan.h"
#include "engine/prefix_cache.h"
#include "grammar/grammar.h"
#include "model/backend.h"
#include "model/gguf.h"

#define ENGINE_NO_SLOT UINT32_MAX
/* Rows of prompt logits (engine_request.prompt_logprobs) one step computes at most, beyond
 * a row per sequence: bounds the logits buffer, (max_num_seqs + this) x n_vocab floats. */
#define ENGINE_PROMPT_LOGIT_ROWS 64

typedef struct eng_seq {
    uint64_t id;
    struct eng_seq *next;      /* incoming / waiting lists */
    int32_t *tokens;           /* prompt, then generated tokens */
    uint32_t n_tokens, cap_tokens, n_prompt;
    uint32_t n_computed;       /* positions whose K/V are in the slot's blocks */
    uint32_t n_generated;
    uint32_t n_cached;         /* prompt tokens not computed at first admission */
    engine_cached_by cached_by;/* n_cached by source */
    bool admitted_once;
    bool loading;              /* an offload load is pending */
    bool scheduled;            /* has tokens in the step being built */
    uint32_t n_sched;          /* how many */
    uint32_t slot;             /* kv sequence slot while admitted */
    kvs_key ns;                /* namespace id: model, KV layout, cache_salt */
    kvs_key *hashes;           /* prefix-cache hashes of the full blocks of tokens */
    uint32_t n_hashes;
    uint32_t n_registered;     /* blocks [0, n) are in the prefix cache */
    sampler *smp;
    grammar *gr;               /* the output's grammar, NULL for free text */
    grammar_matcher *gm;
    uint64_t *gmask;           /* allowed tokens, one bit each */
    int32_t *stops;
    size_t n_stops;
    uint32_t max_tokens;
    uint32_t top_logprobs;     /* alternatives per event */
    bool prompt_logprobs, prompt_only;
    uint32_t prompt_lp_next;   /* prompt_logprobs: the next prompt token whose logprob is
                                * due (1 at first: the first token has none) */
    engine_event_fn on_event;
    void *user;
    double t_submit, t_last;
    conn_seq conn;
} eng_seq;

struct engine {
    engine_config cfg;
    char name[256];
    char *chat_template, *chat_template_tool_use;
    gguf_file *gf;
    model *m;
    tokenizer *tk;
    backend *be;
    kv_paged *kv;              /* its blocks in be's memory */
    char kv_sizing[192];       /* engine_kv_cache_sizing */
    prefix_cache *pc;          /* NULL without enable_prefix_caching */
    connector *conn;           /* NULL with ENGINE_KV_NONE */
    kvs_config offload;        /* cfg.offload points here: the caller's, .gpu set on CUDA */
    kvs_namespace_desc ns_desc;/* cache_salt filled per request */
    uint32_t max_model_len, n_vocab;
    /* The vocabulary as bytes for grammars, made by the first request with one. */
    pthread_mutex_t trie_mu;
    token_trie *trie;
    char **tok_bytes;
    size_t *tok_lens;
    int32_t *eog;              /* end-of-generation tokens */
    size_t n_eog;

    pthread_mutex_t mu;        /* guards the fields below up to the scheduler's own */
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started, shutdown;
    eng_seq *in_head, *in_tail;
    uint64_t *cancels;
    size_t n_cancels, cap_cancels;
    uint64_t next_id;
    engine_stats st;           /* kv_blocks_*, requests_* refreshed by the scheduler */
    /* For engine_lookup_prefix, refreshed by the scheduler: the prefill queue and a copy of
     * the load-or-compute estimate (est, below). */
    uint64_t prefill_queued, decode_running;
    load_est rates;

    /* Scheduler thread only. */
    eng_seq *wait_head, *wait_tail;
    eng_seq **running;         /* admission order, oldest first */
    uint32_t n_running;
    uint32_t *free_slots, n_free_slots;
    int32_t *b_tokens;
    uint32_t *b_pos, *b_seq, *b_rows;
    eng_seq **b_out_seq;
    uint32_t *b_out_pos;       /* the position of each row of logits */
    float *logits, *scratch;
    /* The load-or-compute estimate (load_plan.h): the prefill steps' speed, fed here, and
     * the tiers' load rates, fed by the connector, which plans with it. */
    load_est est;
};

int scheduler_start(engine *e, engine_error *err) ENGINE_MUST_CHECK;
/* The token trie for grammars, built on first use (engine_grammar.c). */
int engine_token_trie(engine *e, engine_error *err) ENGINE_MUST_CHECK;
void engine_token_trie_free(engine *e);
/* Masks s's row of logits to what its grammar allows next; -1 with err when no token is
 * allowed or the matcher hit a limit. */
int engine_grammar_mask(engine *e, eng_seq *s, float *logits, engine_error *err) ENGINE_MUST_CHECK;
/* Feeds the sampled token to s's grammar; *done is set when nothing can follow. */
int engine_grammar_accept(engine *e, eng_seq *s, int32_t token, bool *done,
                          engine_error *err) ENGINE_MUST_CHECK;
/* Sets shutdown, wakes the thread and joins it: every request gets its final event. */
void scheduler_stop(engine *e);
void eng_seq_free(eng_seq *s);

#endif
