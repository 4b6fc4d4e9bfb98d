/* The offload connector: lookup, load-or-compute, asynchronous load with scatter into the
 * paged cache, and asynchronous store of gathered chunks. Scatters and gathers are queued
 * on the backend; connector_inflight.c keeps each chunk's payload until they are done. */
#include "engine/connector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/connector_internal.h"
#include "engine/histogram.h"

/* A load seen done at a look further than this share of its time (or than TIMING_SLACK_S)
 * after the last look that saw it running (a forward step ran between them) only bounds
 * its speed from below. */
#define TIMING_SLACK 0.125
#define TIMING_SLACK_S 0.001

double connector_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int connector_create(const engine_config *cfg, backend *be, kv_paged *kv,
                     const kvs_layout *layout, load_est *est, connector **out,
                     engine_error *err)
{
    *out = NULL;
    if (cfg->chunk_size == 0 || cfg->chunk_size > KVS_CHUNK_MAX_TOKENS)
        return engine_fail(err, "offload connector: chunk_size %u is not in [1, %u]",
                           cfg->chunk_size, KVS_CHUNK_MAX_TOKENS);
    connector *c = calloc(1, sizeof *c);
    if (!c)
        return engine_fail(err, "offload connector: out of memory");
    kvs_error kerr;
    if (kvs_cache_open(cfg->offload, &c->cache, &kerr) != KVS_OK) {
        free(c);
        return engine_fail(err, "offload connector: %s", kerr.msg);
    }
    c->be = be;
    c->kv = kv;
    c->layout = *layout;
    c->codec = cfg->kv_codec;
    c->chunk = cfg->chunk_size;
    c->role = cfg->kv_role;
    c->save_decode = cfg->save_decode_cache;
    c->always_load = cfg->offload_always_load;
    c->save_unfull = cfg->save_unfull_chunk;
    kvs_stats tiers;
    kvs_cache_stats(c->cache, &tiers);
    c->est = est;
    load_est_init(est, &tiers); /* the tiers' priors; no step has run yet */
    for (uint32_t t = 0; t < tiers.n_tiers && t < KVS_MAX_TIERS; t++)
        snprintf(c->tier_names[t], sizeof c->tier_names[t], "%.*s",
                 (int)sizeof tiers.tiers[t].name, tiers.tiers[t].name);
    pthread_mutex_init(&c->mu, NULL);
    histogram_init(&c->h_load, 0.0005, 2.0);
    histogram_init(&c->h_store, 0.0005, 2.0);
    *out = c;
    return 0;
}

/* Chunk keys of the full chunks of tokens[0, n_tokens), extended from what cs has, with
 * room for one more (a partial chunk's key). */
static bool ensure_keys(connector *c, conn_seq *cs, const kvs_key *ns, const int32_t *tokens,
                        uint32_t n_tokens)
{
    uint32_t n_full = n_tokens / c->chunk;
    if (n_full + 1 > cs->cap_keys) {
        kvs_key *g = realloc(cs->keys, (n_full + 1) * sizeof *g);
        if (g)
            cs->keys = g;
        uint8_t *t = g ? realloc(cs->tier_of, n_full + 1) : NULL;
        if (!t)
            return false;
        cs->tier_of = t;
        cs->cap_keys = n_full + 1;
    }
    for (uint32_t i = cs->n_keys; i < n_full; i++)
        kvs_key_next(i ? &cs->keys[i - 1] : ns, tokens + (size_t)i * c->chunk, c->chunk,
                     &cs->keys[i]);
    if (n_full > cs->n_keys)
        cs->n_keys = n_full;
    return true;
}

/* The key of the partial chunk index (its n tokens after index full chunks): the chain
 * extended by fewer tokens, as kvs_chunk_keys does with include_partial. */
static void partial_key(const connector *c, const conn_seq *cs, const kvs_key *ns,
                        const int32_t *tokens, uint32_t index, uint32_t n, kvs_key *key)
{
    kvs_key_next(index ? &cs->keys[index - 1] : ns, tokens + (size_t)index * c->chunk, n, key);
}

/* The keys a lookup of tokens[0, n_tokens) asks for: the full chunks, and with
 * save_unfull_chunk the trailing partial one, put in keys[n_full] (past n_keys: a later
 * full chunk's key replaces it). *covered: the tokens they cover. 0 when out of memory. */
static uint32_t lookup_keys(connector *c, conn_seq *cs, const kvs_key *ns, const int32_t *tokens,
                            uint32_t n_tokens, uint32_t *covered)
{
    uint32_t n_full = n_tokens / c->chunk, rest = c->save_unfull ? n_tokens % c->chunk : 0;
    *covered = n_full * c->chunk + rest;
    if (!ensure_keys(c, cs, ns, tokens, n_tokens))
        return 0;
    if (rest)
        partial_key(c, cs, ns, tokens, n_full, rest, &cs->keys[n_full]);
    return n_full + (rest > 0);
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* The end of chunk i's tokens when the looked-up chunks cover [0, covered). */
static uint32_t chunk_end(const connector *c, uint32_t i, uint32_t covered)
{
    return min_u32((i + 1) * c->chunk, covered);
}

/* How many chunks of [first, n_use) to load, by the estimates (all with always_load). A
 * chunk's load saves computing its tokens in [have, use_end). *compute_s: the estimated
 * time to compute what the loaded chunks hold. */
static uint32_t plan_load(connector *c, const conn_seq *cs, uint32_t first, uint32_t n_use,
                          uint32_t have, uint32_t use_end, uint32_t covered, double *compute_s)
{
    *compute_s = 0;
    if (c->always_load)
        return n_use;
    load_item *items = malloc((n_use - first) * sizeof *items);
    if (!items)
        return first;
    for (uint32_t i = first; i < n_use; i++) {
        uint32_t start = i * c->chunk, end = chunk_end(c, i, covered);
        items[i - first] = (load_item){
            cs->tier_of[i], kvs_payload_bytes(&c->layout, end - start),
            min_u32(end, use_end) - max_u32(start, have)};
    }
    double load_s;
    uint32_t k = load_plan(c->est, items, n_use - first, &load_s, compute_s);
    free(items);
    return first + k;
}

/* Starts the gets of chunks [first, n_use) as cs's pending load, split into up to twice as
 * many batches as the cache has I/O threads: each batch is one job on one I/O thread, so
 * the threads read in parallel while the scheduler scatters the batches that are done
 * (the copy into the paged cache then overlaps the reads). Returns the end of the chunks
 * asked for: first when none could be. */
static uint32_t start_load(connector *c, conn_seq *cs, const kvs_key *ns,
                           const int32_t *tokens, uint32_t first, uint32_t n_use,
                           uint32_t covered)
{
    uint32_t n = n_use - first, max_batches = 2 * kvs_cache_config(c->cache)->io_threads;
    uint32_t per = (n + max_batches - 1) / max_batches;
    kvs_chunk_request *reqs = calloc(n, sizeof *reqs);
    cs->loads = calloc((n + per - 1) / per, sizeof *cs->loads);
    if (!reqs || !cs->loads) {
        free(reqs);
        free(cs->loads);
        cs->loads = NULL;
        return first;
    }
    for (uint32_t i = first; i < n_use; i++) {
        uint32_t start = i * c->chunk;
        reqs[i - first] = (kvs_chunk_request){cs->keys[i], i, tokens + start,
                                              chunk_end(c, i, covered) - start};
    }
    cs->n_loads = cs->load_next = 0;
    cs->load_per = per;
    cs->load_first = first;
    cs->load_covered = covered;
    memset(cs->load_plan_bytes, 0, sizeof cs->load_plan_bytes);
    memset(cs->load_got, 0, sizeof cs->load_got);
    kvs_error kerr;
    cs->load_start = connector_now(); /* a get from memory is done when it returns: time it too */
    uint32_t end = first;
    for (; end < n_use; end += per) {
        uint32_t k = min_u32(per, n_use - end);
        if (kvs_get_async(c->cache, ns, reqs + (end - first), k, &cs->loads[cs->n_loads],
                          &kerr) != KVS_OK)
            break; /* the hit ends where the gets could not start */
        cs->n_loads++;
    }
    free(reqs);
    end = min_u32(end, n_use);
    for (uint32_t i = first; i < end; i++)
        cs->load_plan_bytes[cs->tier_of[i]] +=
            kvs_payload_bytes(&c->layout, chunk_end(c, i, covered) - i * c->chunk);
    cs->load_seen = connector_now();
    if (cs->n_loads == 0) {
        free(cs->loads);
        cs->loads = NULL;
    }
    return end;
}

void connector_admit(connector *c, conn_seq *cs, const kvs_key *ns, const int32_t *tokens,
                     uint32_t n_tokens, uint32_t have, uint32_t *load_end)
{
    *load_end = have;
    cs->n_stored = 0;
    cs->partial_stored = false;
    memset(cs->load_tokens, 0, sizeof cs->load_tokens);
    uint32_t covered, n_look = lookup_keys(c, cs, ns, tokens, n_tokens, &covered);
    size_t n_hit = 0;
    kvs_error kerr;
    if (n_look == 0 ||
        kvs_lookup_tiers(c->cache, ns, cs->keys, n_look, cs->tier_of, &n_hit, &kerr) != KVS_OK)
        return; /* a failing cache is a miss */
    uint32_t n_full = n_tokens / c->chunk;
    cs->n_stored = min_u32((uint32_t)n_hit, n_full);
    cs->partial_stored = n_hit > n_full;
    if (c->role == ENGINE_KV_PRODUCER)
        return;
    /* The last token is always computed: its logits are needed. */
    uint32_t use_end = min_u32(min_u32((uint32_t)n_hit * c->chunk, covered), n_tokens - 1);
    if (use_end <= have)
        return;
    pthread_mutex_lock(&c->mu);
    c->hit_tokens += use_end - have;
    pthread_mutex_unlock(&c->mu);
    uint32_t first = have / c->chunk, n_use = (use_end + c->chunk - 1) / c->chunk;
    double compute_s;
    n_use = plan_load(c, cs, first, n_use, have, use_end, covered, &compute_s);
    if (n_use > first)
        n_use = start_load(c, cs, ns, tokens, first, n_use, covered);
    if (n_use == first)
        return;
    cs->load_skip = cs->load_at = have;
    cs->load_end = min_u32(n_use * c->chunk, use_end);
    cs->load_deadline = c->always_load ? 0 : cs->load_start + compute_s;
    *load_end = cs->load_end;
}

/* Queues the copy of positions [from, to) between chunk ch, which holds positions from
 * start on, and the sequence's blocks (to_blocks: a scatter); *fence: its transfer. */
static int transfer(connector *c, const kvs_chunk *ch, const uint32_t *table, uint32_t start,
                    uint32_t from, uint32_t to, bool to_blocks, uint64_t *fence)
{
    kv_xfer x = {
        .table = table,
        .start = start,
        .from = from,
        .to = to,
        /* Not const for a gather's sake; a scatter only reads it. */
        .payload = (void *)kvs_chunk_payload(ch),
        .seg_stride = kvs_segment_stride(&c->layout, kvs_chunk_get_info(ch)->n_tokens),
        .on_device = kvs_chunk_on_device(ch),
        .to_blocks = to_blocks,
        .codec = c->codec,
    };
    model_error err;
    return c->be->ops->kv_transfer(c->be, kv_paged_cache(c->kv), &x, 1, fence, &err);
}

static bool chunk_fits(const connector *c, const kvs_chunk *ch, uint32_t n_tokens)
{
    const kvs_chunk_info *in = kvs_chunk_get_info(ch);
    return in->n_tokens == n_tokens && in->layout.n_layers == c->layout.n_layers &&
           in->layout.n_kv_heads == c->layout.n_kv_heads &&
           in->layout.head_dim == c->layout.head_dim && in->layout.dtype == c->layout.dtype;
}

/* Frees the load's batches once nothing uses them: those not scattered yet may still be
 * running, the scattered ones are read by the scatter's transfers until they are done. */
static void end_load(connector *c, conn_seq *cs)
{
    for (uint32_t k = 0; k < cs->n_loads; k++) {
        bool scattered = k < cs->load_next;
        inflight_drop_load(c, (pending){cs->loads[k], cs->load_start,
                                        scattered && cs->load_fenced, cs->load_fence});
    }
    free(cs->loads);
    cs->loads = NULL;
    cs->n_loads = cs->load_next = 0;
    cs->load_fenced = false;
}

/* Scatters the loaded chunks of the next batch (done) into the blocks, up to the first
 * that failed; false when one did (the hit ends there). */
static bool scatter_next(connector *c, conn_seq *cs, uint32_t slot)
{
    kvs_batch *b = cs->loads[cs->load_next];
    uint32_t first = cs->load_first + cs->load_next * cs->load_per;
    size_t n_loaded = kvs_batch_loaded(b), used = 0;
    const uint32_t *table = kv_paged_seq_table(c->kv, slot);
    for (; used < n_loaded; used++) {
        kvs_chunk *ch = kvs_batch_chunk(b, used);
        uint32_t i = first + (uint32_t)used, start = i * c->chunk;
        uint32_t end = chunk_end(c, i, cs->load_covered);
        if (!chunk_fits(c, ch, end - start))
            break;
        uint32_t from = max_u32(start, cs->load_skip), to = min_u32(end, cs->load_end);
        uint64_t fence;
        if (transfer(c, ch, table, start, from, to, true, &fence) != 0)
            break;
        cs->load_fence = fence;
        cs->load_fenced = true;
        cs->load_at = to;
        int t = kvs_batch_item_tier(b, used);
        if (t >= 0 && t < KVS_MAX_TIERS) {
            cs->load_got[t] += kvs_chunk_get_info(ch)->payload_size;
            cs->load_tokens[t] += to - from;
        }
    }
    cs->load_next++;
    if (used == kvs_batch_count(b))
        return true;
    /* Chunks past a failed one were removed or are unreadable: store them again. */
    uint32_t failed = first + (uint32_t)used;
    if (cs->n_stored > failed)
        cs->n_stored = failed;
    cs->partial_stored = false;
    return false;
}

bool connector_poll(connector *c, conn_seq *cs, uint32_t slot, int wait_ms, uint32_t *loaded_end)
{
    bool ok = true;
    /* Batches are used in chunk order (KV is causal): each as soon as it and all before it
     * are done. Only the first look waits. */
    for (; ok && cs->load_next < cs->n_loads; wait_ms = 0) {
        kvs_batch *b = cs->loads[cs->load_next];
        if (!kvs_batch_done(b) && (wait_ms <= 0 || kvs_batch_wait(b, wait_ms) != KVS_OK))
            break;
        double seen_done = connector_now();
        ok = scatter_next(c, cs, slot);
        /* What is scattered so far was loaded (and copied: part of what a load costs) in
         * the time since the start; it ended within the time since the last look that saw
         * it running. */
        double dt = connector_now() - cs->load_start, window = seen_done - cs->load_seen;
        bool exact = window <= TIMING_SLACK * dt || window <= TIMING_SLACK_S;
        load_est_observe(c->est, cs->load_got, dt, exact ? LOAD_EXACT : LOAD_AT_MOST);
    }
    double now = connector_now();
    bool over = !ok || cs->load_next == cs->n_loads;
    if (!over) {
        cs->load_seen = now;
        if (!cs->load_deadline || now < cs->load_deadline)
            return false;
        /* Slower than recomputing would have been: keep what is scattered, recompute the
         * rest. The tiers the plan counted on are slower than estimated. */
        load_est_observe(c->est, cs->load_plan_bytes, now - cs->load_start, LOAD_AT_LEAST);
    }
    *loaded_end = cs->load_at;
    pthread_mutex_lock(&c->mu);
    c->loaded_tokens += cs->load_at - cs->load_skip;
    if (over)
        histogram_observe(&c->h_load, now - cs->load_start);
    pthread_mutex_unlock(&c->mu);
    end_load(c, cs);
    return true;
}

/* A new chunk for positions [index * chunk, + n): on a GPU, in the cache's device staging
 * memory when it has room (the gds tier then writes it straight from there). */
static kvs_chunk *new_chunk(connector *c, const conn_seq *cs, const kvs_key *ns,
                            const kvs_key *key, uint32_t index, const int32_t *tokens, uint32_t n)
{
    const kvs_key *parent = index ? &cs->keys[index - 1] : ns;
    const int32_t *own = tokens + (size_t)index * c->chunk;
    kvs_chunk *ch = NULL;
    kvs_error kerr;
    if (c->be->kind == BACKEND_CUDA) {
        kvs_status st = kvs_chunk_new_device(c->cache, ns, parent, key, index, own, n,
                                             &c->layout, &ch, &kerr);
        if (st == KVS_OK)
            return ch;
        if (st != KVS_ERR_UNSUPPORTED && st != KVS_ERR_FULL)
            return NULL;
    }
    if (kvs_chunk_new(ns, parent, key, index, own, n, &c->layout, &ch, &kerr) != KVS_OK)
        return NULL;
    return ch;
}

/* A new chunk holding positions [index * chunk, + n), its gather from the sequence's
 * blocks queued (*fence); NULL when it cannot be made. */
static kvs_chunk *gather(connector *c, const conn_seq *cs, const kvs_key *ns, const kvs_key *key,
                         uint32_t index, const int32_t *tokens, uint32_t n, const uint32_t *table,
                         uint64_t *fence)
{
    uint32_t start = index * c->chunk;
    uint64_t queued;
    kvs_chunk *ch = new_chunk(c, cs, ns, key, index, tokens, n);
    if (!ch)
        return NULL;
    if (transfer(c, ch, table, start, start, start + n, false, &queued) != 0) {
        kvs_chunk_release(ch);
        return NULL;
    }
    *fence = queued;
    return ch;
}

/* While g's gathers run, one more reference to each block they read (gathering in
 * connector_internal.h); none when they are done already. Out of memory, it waits for them
 * instead. */
static void hold_blocks(connector *c, gathering *g, const uint32_t *table)
{
    if (c->be->ops->done(c->be, g->fence))
        return;
    const kvs_chunk_info *first = kvs_chunk_get_info(g->chunks[0]);
    const kvs_chunk_info *last = kvs_chunk_get_info(g->chunks[g->n - 1]);
    uint32_t b0 = first->chunk_index * c->chunk / KV_PAGED_BLOCK;
    uint32_t b1 = (last->chunk_index * c->chunk + last->n_tokens - 1) / KV_PAGED_BLOCK;
    g->blocks = malloc((b1 - b0 + 1) * sizeof *g->blocks);
    if (!g->blocks) {
        model_error err;
        (void)c->be->ops->wait(c->be, g->fence, &err); /* a failed wait fails the put too */
        return;
    }
    for (uint32_t b = b0; b <= b1; b++) {
        g->blocks[g->n_blocks++] = table[b];
        kv_paged_ref(c->kv, table[b]);
    }
}

void connector_store(connector *c, conn_seq *cs, const kvs_key *ns, uint32_t slot,
                     const int32_t *tokens, uint32_t n_computed, uint32_t n_prompt)
{
    if (c->role == ENGINE_KV_CONSUMER)
        return;
    uint32_t limit = c->save_decode || n_computed < n_prompt ? n_computed : n_prompt;
    uint32_t n_full = limit / c->chunk, n_new = n_full > cs->n_stored ? n_full - cs->n_stored : 0;
    /* The prompt's trailing partial chunk, once the whole prompt is computed (LMCache
     * stores it at the last prefill step only). */
    uint32_t rest = c->save_unfull && !cs->partial_stored && n_computed >= n_prompt
                        ? n_prompt % c->chunk : 0;
    if ((n_new == 0 && rest == 0) || !ensure_keys(c, cs, ns, tokens, limit))
        return;
    gathering g = {.chunks = calloc(n_new + 1, sizeof *g.chunks), .t0 = connector_now()};
    if (!g.chunks)
        return;
    const uint32_t *table = kv_paged_seq_table(c->kv, slot);
    while (g.n < n_new && (g.chunks[g.n] = gather(c, cs, ns, &cs->keys[cs->n_stored + g.n],
                                                  cs->n_stored + g.n, tokens, c->chunk, table,
                                                  &g.fence)))
        g.n++;
    if (rest && g.n == n_new) {
        kvs_key key;
        uint32_t index = n_prompt / c->chunk;
        partial_key(c, cs, ns, tokens, index, rest, &key);
        if ((g.chunks[g.n] = gather(c, cs, ns, &key, index, tokens, rest, table, &g.fence)))
            g.n++;
        cs->partial_stored = true;
    }
    if (g.n > 0) {
        hold_blocks(c, &g, table);
        inflight_store(c, g); /* the CPU's gathers are done: put at once */
    } else
        free(g.chunks);
    if (n_new > 0)
        cs->n_stored = n_full;
}

void connector_seq_reset(connector *c, conn_seq *cs)
{
    end_load(c, cs);
    cs->n_stored = 0;
    cs->partial_stored = false;
}

void connector_destroy(connector *c)
{
    if (!c)
        return;
    inflight_drain(c);
    kvs_cache_close(c->cache);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void connector_tick(connector *c) { inflight_tick(c); }

const char *connector_tier_name(const connector *c, unsigned i)
{
    return i < KVS_MAX_TIERS && c->tier_names[i][0] ? c->tier_names[i] : NULL;
}

void connector_stats(connector *c, engine_stats *st)
{
    pthread_mutex_lock(&c->mu);
    st->offload_hit_tokens = c->hit_tokens;
    st->offload_loaded_tokens = c->loaded_tokens;
    st->offload_stored_chunks = c->stored_chunks;
    st->offload_load = c->h_load;
    st->offload_store = c->h_store;
    pthread_mutex_unlock(&c->mu);
    kvs_cache_stats(c->cache, &st->offload);
}
