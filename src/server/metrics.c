/* Prometheus text rendering of engine_stats. Histogram counts from the engine are per
 * bucket; the exposition format wants them cumulative, so they are summed here. */
#include "server/metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/heap.h"

typedef struct out_ctx {
    tok_bytes *out;
    char labels[256]; /* model_name="..." */
    int failed;
} out_ctx;

static void emit(out_ctx *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_ctx *o, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line || tok_bytes_append(o->out, line, (size_t)n))
        o->failed = 1;
}

static void header(out_ctx *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(out_ctx *o, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    header(o, name, type, help);
    emit(o, "%s{%s} %llu\n", name, o->labels, (unsigned long long)v);
}

static void histogram(out_ctx *o, const char *name, const char *help, const engine_histogram *h)
{
    header(o, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < ENGINE_HIST_BUCKETS && h->bounds[i] > 0; i++) {
        cum += h->counts[i];
        emit(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, o->labels, h->bounds[i],
             (unsigned long long)cum);
    }
    emit(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, o->labels, (unsigned long long)h->count);
    emit(o, "%s_sum{%s} %.9g\n", name, o->labels, h->sum);
    emit(o, "%s_count{%s} %llu\n", name, o->labels, (unsigned long long)h->count);
}

/* Label values escape backslash, quote and newline. */
static void set_labels(out_ctx *o, const char *name)
{
    size_t w = (size_t)snprintf(o->labels, sizeof o->labels, "model_name=\"");
    for (const char *p = name; *p && w + 4 < sizeof o->labels; p++) {
        if (*p == '\\' || *p == '"')
            o->labels[w++] = '\\';
        if (*p == '\n') {
            o->labels[w++] = '\\';
            o->labels[w++] = 'n';
        } else
            o->labels[w++] = *p;
    }
    o->labels[w++] = '"';
    o->labels[w] = 0;
}

typedef struct tier_metric {
    const char *name, *type, *help;
    size_t offset;
} tier_metric;

#define TM(field, name, type, help) {name, type, help, offsetof(kvs_tier_stats, field)}
static const tier_metric tier_metrics[] = {
    TM(hits, "kvspill_offload_tier_hits_total", "counter", "Chunk gets served by the tier."),
    TM(misses, "kvspill_offload_tier_misses_total", "counter", "Chunk gets the tier did not hold."),
    TM(bytes_read, "kvspill_offload_tier_read_bytes_total", "counter", "Bytes read from the tier."),
    TM(bytes_written, "kvspill_offload_tier_written_bytes_total", "counter", "Bytes written to the tier."),
    TM(put_errors, "kvspill_offload_tier_put_errors_total", "counter", "Stores the tier failed."),
    TM(get_errors, "kvspill_offload_tier_get_errors_total", "counter", "Loads the tier failed."),
    TM(corrupt, "kvspill_offload_tier_corrupt_objects_total", "counter", "Objects that failed verification and were removed."),
    TM(evictions, "kvspill_offload_tier_evictions_total", "counter", "Objects evicted for space."),
    TM(timeouts, "kvspill_offload_tier_timeouts_total", "counter", "Remote operations given up after their timeout."),
    TM(used_bytes, "kvspill_offload_tier_used_bytes", "gauge", "Bytes held by the tier."),
    TM(capacity_bytes, "kvspill_offload_tier_capacity_bytes", "gauge", "Byte capacity of the tier."),
};

static void tiers(out_ctx *o, const kvs_stats *ks)
{
    for (size_t m = 0; m < sizeof tier_metrics / sizeof tier_metrics[0]; m++) {
        const tier_metric *tm = &tier_metrics[m];
        header(o, tm->name, tm->type, tm->help);
        for (uint32_t t = 0; t < ks->n_tiers && t < KVS_MAX_TIERS; t++) {
            uint64_t v;
            memcpy(&v, (const char *)&ks->tiers[t] + tm->offset, sizeof v);
            char tier[sizeof ks->tiers[t].name + 1];
            snprintf(tier, sizeof tier, "%.*s", (int)sizeof ks->tiers[t].name, ks->tiers[t].name);
            emit(o, "%s{%s,tier=\"%s\"} %llu\n", tm->name, o->labels, tier,
                 (unsigned long long)v);
        }
    }
}

/* The allocator's own view beside the kernel's RSS: when RSS grows while the bytes in use
 * stay flat, the growth is memory freed but kept by malloc (fragmentation), not a leak. */
static void heap(out_ctx *o)
{
    heap_usage u = heap_usage_now();
    scalar(o, "kvspill_heap_in_use_bytes", "gauge",
           "Bytes allocated with malloc and not freed (mallinfo2 uordblks + hblkhd).", u.in_use);
    scalar(o, "kvspill_heap_free_bytes", "gauge",
           "Bytes malloc holds free and has not returned to the system (mallinfo2 fordblks).",
           u.free);
}

int metrics_render(const engine_stats *st, const char *model_name, tok_bytes *out)
{
    out_ctx o = {.out = out};
    set_labels(&o, model_name);
    scalar(&o, "kvspill_num_requests_running", "gauge", "Requests being computed.", st->requests_running);
    scalar(&o, "kvspill_num_requests_waiting", "gauge", "Requests waiting to be scheduled.", st->requests_waiting);
    scalar(&o, "kvspill_requests_total", "counter", "Requests submitted to the engine.", st->requests_total);
    scalar(&o, "kvspill_prompt_tokens_total", "counter", "Prompt tokens processed.", st->prompt_tokens_total);
    scalar(&o, "kvspill_generation_tokens_total", "counter", "Tokens generated.", st->generation_tokens_total);
    scalar(&o, "kvspill_prefix_cache_queries_total", "counter", "Prompt tokens looked up in the in-memory prefix cache.", st->prefix_cache_queries);
    scalar(&o, "kvspill_prefix_cache_hits_total", "counter", "Prompt tokens found in the in-memory prefix cache.", st->prefix_cache_hits);
    scalar(&o, "kvspill_num_preemptions_total", "counter", "Sequences preempted for KV space.", st->preemptions);
    scalar(&o, "kvspill_kv_cache_blocks_total", "gauge", "Blocks of the paged KV cache.", st->kv_blocks_total);
    scalar(&o, "kvspill_kv_cache_blocks_free", "gauge", "Free blocks of the paged KV cache.", st->kv_blocks_free);
    histogram(&o, "kvspill_time_to_first_token_seconds", "Time to first token.", &st->ttft);
    histogram(&o, "kvspill_inter_token_latency_seconds", "Time between generated tokens.", &st->inter_token);
    scalar(&o, "kvspill_offload_hit_tokens_total", "counter", "Prompt tokens found in the offload tiers.", st->offload_hit_tokens);
    scalar(&o, "kvspill_offload_loaded_tokens_total", "counter", "Prompt tokens loaded from the offload tiers.", st->offload_loaded_tokens);
    scalar(&o, "kvspill_offload_stored_chunks_total", "counter", "Chunks handed to the offload tiers.", st->offload_stored_chunks);
    histogram(&o, "kvspill_offload_load_seconds", "Time to load a request's chunks.", &st->offload_load);
    histogram(&o, "kvspill_offload_store_seconds", "Time to store a chunk.", &st->offload_store);
    const kvs_stats *ks = &st->offload;
    scalar(&o, "kvspill_offload_lookups_total", "counter", "Offload lookups.", ks->lookups);
    scalar(&o, "kvspill_offload_lookup_hit_chunks_total", "counter", "Chunks offload lookups found.", ks->lookup_hit_chunks);
    scalar(&o, "kvspill_offload_lookup_miss_chunks_total", "counter", "Chunks offload lookups missed.", ks->lookup_miss_chunks);
    scalar(&o, "kvspill_offload_puts_total", "counter", "Chunks stored.", ks->puts);
    scalar(&o, "kvspill_offload_dropped_stores_total", "counter", "Stores dropped because the write queue was full.", ks->dropped_puts);
    scalar(&o, "kvspill_offload_write_queue_bytes", "gauge", "Bytes waiting in the write queue.", ks->write_queue_bytes);
    tiers(&o, ks);
    heap(&o);
    return o.failed ? -1 : 0;
}
