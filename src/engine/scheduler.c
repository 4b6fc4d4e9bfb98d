/* The scheduler thread: continuous batching over the paged KV cache.
 *
 * Each iteration takes new requests and cancellations from the API side, admits waiting
 * sequences while slots and blocks allow (prefix-cache hits first, then offload hits),
 * builds one forward batch (decode tokens of every running sequence first, then chunks of
 * prefills, under max_num_batched_tokens), runs it, samples where a sequence's last token
 * was computed and delivers events. When a sequence needs a block and none is free, the
 * youngest sequence not yet in the batch is preempted: its blocks are freed and it goes
 * back to the front of the queue to be recomputed (its prefix blocks usually survive in
 * the prefix cache). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"
#include "engine/histogram.h"
#include "engine/token_logprobs.h"
#include "model/tokenizer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t blocks_for(uint32_t n_pos)
{
    return (n_pos + KV_PAGED_BLOCK - 1) / KV_PAGED_BLOCK;
}

void eng_seq_free(eng_seq *s)
{
    if (!s)
        return;
    sampler_destroy(s->smp);
    grammar_matcher_destroy(s->gm);
    grammar_free(s->gr);
    free(s->gmask);
    free(s->tokens);
    free(s->hashes);
    free(s->stops);
    free(s->conn.keys);
    free(s->conn.tier_of);
    free(s);
}

/* What one event tells beyond the request's state: a generated token, or a prompt
 * token's logprob (prompt_index > 0), with the alternatives at that position. */
typedef struct seq_token {
    bool has_token;
    uint32_t prompt_index;
    int32_t token;
    float logprob;
    const engine_alt *top;
    uint32_t n_top;
} seq_token;

static void emit(eng_seq *s, const seq_token *t, engine_finish finish, const char *message)
{
    static const seq_token none;
    if (!t)
        t = &none;
    engine_event ev = {
        .request_id = s->id,
        .has_token = t->has_token,
        .is_prompt = t->prompt_index > 0,
        .prompt_index = t->prompt_index,
        .token = t->token,
        .logprob = t->logprob,
        .top = t->top,
        .n_top = t->n_top,
        .done = finish != ENGINE_FINISH_NONE,
        .finish = finish,
        .message = message,
        .prompt_tokens = s->n_prompt,
        .cached_tokens = s->n_cached,
        .cached_by = s->cached_by,
        .completion_tokens = s->n_generated,
    };
    s->on_event(s->user, &ev);
}

static void release_slot(engine *e, eng_seq *s)
{
    if (s->slot == ENGINE_NO_SLOT)
        return;
    if (e->conn)
        connector_seq_reset(e->conn, &s->conn);
    s->loading = false;
    kv_paged_seq_free(e->kv, s->slot);
    e->free_slots[e->n_free_slots++] = s->slot;
    s->slot = ENGINE_NO_SLOT;
}

static void remove_running(engine *e, eng_seq *s)
{
    for (uint32_t i = 0; i < e->n_running; i++)
        if (e->running[i] == s) {
            memmove(&e->running[i], &e->running[i + 1],
                    (e->n_running - i - 1) * sizeof *e->running);
            e->n_running--;
            return;
        }
}

/* Final event and free; s is in no list any more. The running count is published first,
 * so a client that has its last event never reads itself still counted as running (the
 * other gauges follow after the step: publish_gauges walks every sequence). */
static void finish(engine *e, eng_seq *s, engine_finish why, const char *message)
{
    release_slot(e, s);
    pthread_mutex_lock(&e->mu);
    e->st.requests_running = e->n_running;
    pthread_mutex_unlock(&e->mu);
    emit(s, NULL, why, message);
    eng_seq_free(s);
}

static void register_blocks(engine *e, eng_seq *s)
{
    if (!e->pc)
        return;
    s->n_hashes = prefix_hash_extend(&s->ns, s->tokens, s->n_computed, s->hashes, s->n_hashes);
    const uint32_t *table = kv_paged_seq_table(e->kv, s->slot);
    uint32_t n_full = s->n_computed / KV_PAGED_BLOCK;
    for (uint32_t i = s->n_registered; i < n_full; i++)
        prefix_cache_put(e->pc, &s->hashes[i], table[i]);
    if (n_full > s->n_registered)
        s->n_registered = n_full;
}

static void loaded(engine *e, eng_seq *s, uint32_t end)
{
    s->loading = false;
    s->n_computed = end;
    if (!s->admitted_once) {
        s->n_cached = end;
        memcpy(s->cached_by.tier, s->conn.load_tokens, sizeof s->cached_by.tier);
        s->admitted_once = true;
    }
    register_blocks(e, s);
}

/* Prompt logprobs still due: positions served from a cache have no logits, so the whole
 * prompt is computed (as vLLM skips its prefix cache for prompt logprobs). */
static bool prompt_rows_due(const eng_seq *s)
{
    return s->prompt_logprobs && s->prompt_lp_next < s->n_prompt;
}

/* Position p's logits give the logprob of prompt token p + 1, when that one is due. */
static bool wants_prompt_row(const eng_seq *s, uint32_t p)
{
    return s->prompt_logprobs && p + 1 >= s->prompt_lp_next && p + 1 < s->n_prompt;
}

/* Admits the head of the waiting queue when a slot and its blocks are available. */
static bool admit(engine *e, eng_seq *s)
{
    uint32_t slot = e->free_slots[--e->n_free_slots];
    uint32_t have = 0;
    bool use_cache = !prompt_rows_due(s);
    if (e->pc && use_cache) {
        s->n_hashes = prefix_hash_extend(&s->ns, s->tokens, s->n_tokens, s->hashes, s->n_hashes);
        uint32_t max_hit = (s->n_tokens - 1) / KV_PAGED_BLOCK, i = 0;
        engine_error err;
        for (; i < max_hit && i < s->n_hashes; i++) {
            uint32_t b = prefix_cache_get(e->pc, &s->hashes[i]);
            if (b == KV_PAGED_NONE)
                break;
            if (kv_paged_seq_append(e->kv, slot, b, &err) != 0) {
                kv_paged_unref(e->kv, b);
                break;
            }
        }
        have = i * KV_PAGED_BLOCK;
    }
    uint32_t need = blocks_for(s->n_tokens) - have / KV_PAGED_BLOCK;
    if (need > kv_paged_n_free(e->kv)) {
        kv_paged_seq_free(e->kv, slot);
        e->free_slots[e->n_free_slots++] = slot;
        return false;
    }
    if (e->pc && use_cache) {
        pthread_mutex_lock(&e->mu);
        e->st.prefix_cache_queries += s->n_tokens;
        e->st.prefix_cache_hits += have;
        pthread_mutex_unlock(&e->mu);
    }
    s->slot = slot;
    s->n_computed = have;
    s->cached_by.prefix_cache = have;
    s->n_registered = have / KV_PAGED_BLOCK;
    uint32_t load_end = have;
    if (e->conn && use_cache)
        connector_admit(e->conn, &s->conn, &s->ns, s->tokens, s->n_tokens, have, &load_end);
    engine_error err;
    /* The free blocks were counted above; should it fail all the same, the slot, its
     * blocks and the connector's state go back, and s waits with no slot. */
    if (kv_paged_seq_reserve(e->kv, slot, s->n_tokens, &err) != 0) {
        release_slot(e, s);
        return false;
    }
    if (load_end > have)
        s->loading = true;
    else
        loaded(e, s, have);
    return true;
}

static void push_front(engine *e, eng_seq *s)
{
    s->next = e->wait_head;
    e->wait_head = s;
    if (!e->wait_tail)
        e->wait_tail = s;
}

static eng_seq *pop_front(engine *e)
{
    eng_seq *s = e->wait_head;
    e->wait_head = s->next;
    if (!e->wait_head)
        e->wait_tail = NULL;
    s->next = NULL;
    return s;
}

static void admit_waiting(engine *e)
{
    while (e->wait_head && e->n_free_slots > 0) {
        eng_seq *s = e->wait_head;
        if (blocks_for(s->n_tokens) > kv_paged_n_blocks(e->kv)) {
            pop_front(e);
            finish(e, s, ENGINE_FINISH_ERROR, "the KV cache is too small for this sequence");
            continue;
        }
        if (!admit(e, s))
            return;
        pop_front(e);
        e->running[e->n_running++] = s;
    }
}

static void preempt(engine *e, eng_seq *s)
{
    remove_running(e, s);
    release_slot(e, s);
    s->n_computed = 0;
    s->n_registered = 0;
    push_front(e, s);
    pthread_mutex_lock(&e->mu);
    e->st.preemptions++;
    pthread_mutex_unlock(&e->mu);
}

/* The youngest running sequence with nothing in the batch yet, other than s. */
static eng_seq *victim_for(engine *e, const eng_seq *s)
{
    for (uint32_t i = e->n_running; i-- > 0;)
        if (e->running[i] != s && !e->running[i]->scheduled)
            return e->running[i];
    return NULL;
}

/* Fills the batch buffers; returns the number of tokens and, in *n_out, the number of rows
 * of logits (b_rows, b_out_seq, b_out_pos): one to sample where a sequence's last token is
 * computed, and those of prompt logprobs (at most ENGINE_PROMPT_LOGIT_ROWS a step). Each
 * sequence in the batch gets s->scheduled and its token count in s->n_sched; sequences
 * may be preempted to make room. */
static uint32_t build_batch(engine *e, uint32_t *n_out)
{
    uint32_t nb = 0, no = 0, budget = e->cfg.max_num_batched_tokens;
    uint32_t prompt_rows = ENGINE_PROMPT_LOGIT_ROWS;
    for (uint32_t i = 0; i < e->n_running; i++)
        e->running[i]->scheduled = false;
    for (int pass = 0; pass < 2 && budget > 0; pass++) {
        for (uint32_t i = 0; i < e->n_running && budget > 0; i++) {
            eng_seq *s = e->running[i];
            uint32_t remaining = s->n_tokens - s->n_computed;
            if (s->loading || s->scheduled || remaining == 0 || (pass == 0) != (remaining == 1))
                continue;
            uint32_t n = remaining < budget ? remaining : budget;
            if (prompt_rows_due(s)) {
                if (prompt_rows == 0)
                    continue;
                n = n < prompt_rows ? n : prompt_rows; /* no more rows than positions */
            }
            bool self = false;
            engine_error err;
            while (kv_paged_seq_reserve(e->kv, s->slot, s->n_computed + n, &err) != 0) {
                eng_seq *v = victim_for(e, s);
                preempt(e, v ? v : s);
                if (!v) {
                    self = true;
                    break;
                }
            }
            if (self) {
                i--;
                continue;
            }
            while (e->running[i] != s) /* a victim ahead of s moved it */
                i--;
            s->scheduled = true;
            s->n_sched = n;
            for (uint32_t j = 0; j < n; j++) {
                uint32_t p = s->n_computed + j;
                e->b_tokens[nb + j] = s->tokens[p];
                e->b_pos[nb + j] = p;
                e->b_seq[nb + j] = s->slot;
                if (wants_prompt_row(s, p)) {
                    e->b_rows[no] = nb + j;
                    e->b_out_seq[no] = s;
                    e->b_out_pos[no++] = p;
                    prompt_rows--;
                }
            }
            nb += n;
            budget -= n;
            if (s->n_computed + n == s->n_tokens && !s->prompt_only) {
                e->b_rows[no] = nb - 1;
                e->b_out_seq[no] = s;
                e->b_out_pos[no++] = s->n_tokens - 1;
            }
        }
    }
    *n_out = no;
    return nb;
}

static bool is_stop(const eng_seq *s, int32_t t)
{
    for (size_t i = 0; i < s->n_stops; i++)
        if (s->stops[i] == t)
            return true;
    return false;
}

/* Samples the next token of s from its logits row; returns true when s finished (and
 * was freed). */
static bool sample(engine *e, eng_seq *s, const float *row)
{
    double norm = logprobs_normalizer(row, e->n_vocab);
    memcpy(e->scratch, row, e->n_vocab * sizeof *row);
    engine_error gerr;
    if (s->gm && engine_grammar_mask(e, s, e->scratch, &gerr)) {
        remove_running(e, s);
        finish(e, s, ENGINE_FINISH_ERROR, gerr.msg);
        return true;
    }
    int32_t t = sampler_sample(s->smp, e->scratch);
    engine_alt top[ENGINE_MAX_TOP_LOGPROBS];
    seq_token st = {.has_token = true, .token = t,
                    .logprob = (float)((double)row[t] - norm), .top = top,
                    .n_top = logprobs_top(row, e->n_vocab, norm, s->top_logprobs, top)};
    sampler_accept(s->smp, t);
    s->tokens[s->n_tokens++] = t;
    s->n_generated++;

    double now = now_s();
    pthread_mutex_lock(&e->mu);
    histogram_observe(s->n_generated == 1 ? &e->st.ttft : &e->st.inter_token,
                      now - (s->n_generated == 1 ? s->t_submit : s->t_last));
    if (s->n_generated == 1)
        histogram_observe(s->n_cached ? &e->st.ttft_cached : &e->st.ttft_cold,
                          now - s->t_submit);
    e->st.generation_tokens_total++;
    pthread_mutex_unlock(&e->mu);
    s->t_last = now;

    engine_finish why = ENGINE_FINISH_NONE;
    bool grammar_done = false;
    const char *message = NULL;
    if (tokenizer_is_eog(e->tk, t) || is_stop(s, t))
        why = ENGINE_FINISH_STOP;
    else if (s->gm && engine_grammar_accept(e, s, t, &grammar_done, &gerr))
        why = ENGINE_FINISH_ERROR, message = gerr.msg;
    else if (grammar_done)
        why = ENGINE_FINISH_STOP; /* the output is complete and nothing can follow */
    else if ((s->max_tokens && s->n_generated >= s->max_tokens) ||
             s->n_tokens >= e->max_model_len)
        why = ENGINE_FINISH_LENGTH;
    emit(s, &st, why, message);
    if (why == ENGINE_FINISH_NONE)
        return false;
    remove_running(e, s);
    release_slot(e, s);
    eng_seq_free(s);
    return true;
}

/* The logprob of prompt token p + 1 from the logits row of position p. */
static void emit_prompt_logprob(engine *e, eng_seq *s, uint32_t p, const float *row)
{
    double norm = logprobs_normalizer(row, e->n_vocab);
    int32_t t = s->tokens[p + 1];
    engine_alt top[ENGINE_MAX_TOP_LOGPROBS];
    seq_token st = {.prompt_index = p + 1, .token = t, .logprob = (float)((double)row[t] - norm),
                    .top = top, .n_top = logprobs_top(row, e->n_vocab, norm, s->top_logprobs, top)};
    emit(s, &st, ENGINE_FINISH_NONE, NULL);
    s->prompt_lp_next = p + 2;
}

/* Sequences that only score their prompt end once it is computed. */
static void finish_prompt_only(engine *e)
{
    for (uint32_t i = e->n_running; i-- > 0;) {
        eng_seq *s = e->running[i];
        if (s->prompt_only && s->n_computed == s->n_tokens) {
            remove_running(e, s);
            finish(e, s, ENGINE_FINISH_LENGTH, NULL);
        }
    }
}

static void run_step(engine *e)
{
    uint32_t n_out = 0;
    uint32_t n = build_batch(e, &n_out);
    if (n == 0)
        return;
    fwd_batch b = {n, e->b_tokens, e->b_pos, e->b_seq, n_out, e->b_rows};
    model_error err;
    double t0 = now_s();
    if (e->be->ops->eval(e->be, kv_paged_cache(e->kv), &b, e->logits, &err) != 0) {
        for (uint32_t i = e->n_running; i-- > 0;) {
            eng_seq *s = e->running[i];
            if (s->scheduled) {
                remove_running(e, s);
                finish(e, s, ENGINE_FINISH_ERROR, err.msg);
            }
        }
        return;
    }
    /* Only steps with prompt tokens: the estimate is of prefill speed, which a decode step's
     * fixed per-step cost (the output layer) would understate many times over. */
    if (n > n_out)
        load_est_note_compute(&e->est, n, now_s() - t0);
    for (uint32_t i = 0; i < e->n_running; i++) {
        eng_seq *s = e->running[i];
        if (!s->scheduled)
            continue;
        s->n_computed += s->n_sched;
        register_blocks(e, s);
        if (e->conn)
            connector_store(e->conn, &s->conn, &s->ns, s->slot, s->tokens, s->n_computed,
                            s->n_prompt);
    }
    for (uint32_t k = 0; k < n_out; k++) {
        eng_seq *s = e->b_out_seq[k];
        const float *row = e->logits + (size_t)k * e->n_vocab;
        if (e->b_out_pos[k] + 1 < s->n_tokens)
            emit_prompt_logprob(e, s, e->b_out_pos[k], row);
        else
            sample(e, s, row); /* a sequence's last row: s may be freed */
    }
    finish_prompt_only(e);
}

static eng_seq *unlink_waiting(engine *e, uint64_t id)
{
    for (eng_seq **link = &e->wait_head, *prev = NULL; *link; prev = *link, link = &(*link)->next)
        if ((*link)->id == id) {
            eng_seq *s = *link;
            *link = s->next;
            if (e->wait_tail == s)
                e->wait_tail = prev;
            s->next = NULL;
            return s;
        }
    return NULL;
}

static void cancel_id(engine *e, uint64_t id)
{
    for (uint32_t i = 0; i < e->n_running; i++)
        if (e->running[i]->id == id) {
            eng_seq *s = e->running[i];
            remove_running(e, s);
            finish(e, s, ENGINE_FINISH_CANCELLED, NULL);
            return;
        }
    eng_seq *s = unlink_waiting(e, id);
    if (s)
        finish(e, s, ENGINE_FINISH_CANCELLED, NULL);
}

static void poll_loads(engine *e)
{
    bool runnable = false;
    for (uint32_t i = 0; i < e->n_running; i++)
        runnable |= !e->running[i]->loading;
    for (uint32_t i = 0; i < e->n_running; i++) {
        eng_seq *s = e->running[i];
        uint32_t end;
        /* With nothing else to run, wait a little instead of spinning. */
        if (s->loading && connector_poll(e->conn, &s->conn, s->slot, runnable ? 0 : 2, &end)) {
            loaded(e, s, end);
            runnable = true;
        }
    }
}

/* Called after admission as well as after each step, so that a request's first event
 * never reaches a client before the gauges count the request as running. */
static void publish_gauges(engine *e)
{
    uint64_t n_waiting = 0, queued = 0, decoding = 0;
    for (eng_seq *s = e->wait_head; s; s = s->next) {
        n_waiting++;
        queued += s->n_tokens - s->n_computed;
    }
    for (uint32_t i = 0; i < e->n_running; i++) {
        const eng_seq *s = e->running[i];
        /* A load in flight brings its part; only what follows it is computed. */
        uint32_t from = s->loading && s->conn.load_end > s->n_computed ? s->conn.load_end
                                                                      : s->n_computed;
        if (s->n_tokens - s->n_computed <= 1)
            decoding++;
        else if (s->n_tokens > from)
            queued += s->n_tokens - from;
    }
    pthread_mutex_lock(&e->mu);
    e->st.requests_running = e->n_running;
    e->st.requests_waiting = n_waiting;
    e->st.kv_blocks_free = kv_paged_n_free(e->kv);
    e->prefill_queued = queued;
    e->decode_running = decoding;
    e->rates = e->est;
    pthread_mutex_unlock(&e->mu);
}

static void *scheduler_main(void *arg)
{
    engine *e = arg;
    uint64_t *cancels = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->shutdown && !e->in_head && !e->n_cancels && !e->n_running && !e->wait_head)
            pthread_cond_wait(&e->cv, &e->mu);
        bool stop = e->shutdown;
        if (e->in_head) {
            if (e->wait_tail)
                e->wait_tail->next = e->in_head;
            else
                e->wait_head = e->in_head;
            e->wait_tail = e->in_tail;
            e->in_head = e->in_tail = NULL;
        }
        /* Swap buffers so the API side can keep appending while we work. */
        uint64_t *c = e->cancels;
        size_t n_cancels = e->n_cancels, ccap = e->cap_cancels;
        e->cancels = cancels;
        e->cap_cancels = cap;
        e->n_cancels = 0;
        cancels = c;
        cap = ccap;
        pthread_mutex_unlock(&e->mu);

        for (size_t i = 0; i < n_cancels; i++)
            cancel_id(e, cancels[i]);
        if (stop)
            break;
        if (e->conn)
            connector_tick(e->conn);
        admit_waiting(e);
        publish_gauges(e);
        if (e->conn)
            poll_loads(e);
        run_step(e);
        publish_gauges(e);
    }
    while (e->n_running > 0) {
        eng_seq *s = e->running[e->n_running - 1];
        remove_running(e, s);
        finish(e, s, ENGINE_FINISH_CANCELLED, NULL);
    }
    while (e->wait_head)
        finish(e, pop_front(e), ENGINE_FINISH_CANCELLED, NULL);
    publish_gauges(e);
    free(cancels);
    return NULL;
}

int scheduler_start(engine *e, engine_error *err)
{
    if (pthread_create(&e->thread, NULL, scheduler_main, e) != 0)
        return engine_fail(err, "engine: cannot start the scheduler thread");
    e->thread_started = true;
    return 0;
}

void scheduler_stop(engine *e)
{
    if (!e->thread_started)
        return;
    pthread_mutex_lock(&e->mu);
    e->shutdown = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->thread_started = false;
}
