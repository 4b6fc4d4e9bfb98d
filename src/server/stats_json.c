#include "server/stats_json.h"

#include <stdio.h>
#include <time.h>

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

/* {"le": [bounds..., null for +Inf], "counts": [per bucket], "sum", "count"}. */
static json_t *histogram_json(const engine_histogram *h)
{
    json_t *le = json_array(), *counts = json_array();
    int n = 0;
    while (n < ENGINE_HIST_BUCKETS && h->bounds[n] > 0)
        n++;
    for (int i = 0; le && counts && i <= n; i++) {
        int bad = json_array_append_new(le, i < n ? json_real(h->bounds[i]) : json_null()) ||
                  json_array_append_new(counts,
                                        json_integer((json_int_t)h->counts[i < n ? i : ENGINE_HIST_BUCKETS]));
        if (bad)
            break;
    }
    return json_pack("{s:o, s:o, s:f, s:I}", "le", le, "counts", counts, "sum", h->sum, "count",
                     (json_int_t)h->count);
}

static json_t *tier_json(const kvs_tier_stats *t)
{
    char name[sizeof t->name + 1];
    snprintf(name, sizeof name, "%.*s", (int)sizeof t->name, t->name);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "name", name, "used_bytes", (json_int_t)t->used_bytes, "capacity_bytes",
                     (json_int_t)t->capacity_bytes, "objects", (json_int_t)t->objects, "hits",
                     (json_int_t)t->hits, "misses", (json_int_t)t->misses, "hit_rate",
                     ratio(t->hits, t->hits + t->misses), "read_bytes",
                     (json_int_t)t->bytes_read, "written_bytes", (json_int_t)t->bytes_written,
                     "stores", (json_int_t)t->puts, "evictions", (json_int_t)t->evictions,
                     "damaged_objects", (json_int_t)t->corrupt, "get_errors",
                     (json_int_t)t->get_errors, "put_errors", (json_int_t)t->put_errors,
                     "timeouts", (json_int_t)t->timeouts);
}

json_t *stats_json(const engine_stats *st, const char *model_name)
{
    const kvs_stats *ks = &st->offload;
    json_t *tiers = json_array();
    for (uint32_t t = 0; tiers && t < ks->n_tiers && t < KVS_MAX_TIERS; t++)
        if (json_array_append_new(tiers, tier_json(&ks->tiers[t]))) {
            json_decref(tiers);
            return NULL;
        }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return json_pack(
        "{s:s, s:f, s:{s:I, s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I, s:f}, s:{s:I, s:I},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:o, s:o},"
        " s:o, s:{s:o, s:o, s:o}}",
        "model", model_name, "time", (double)now.tv_sec + now.tv_nsec * 1e-9,
        "requests", "running", (json_int_t)st->requests_running, "waiting",
        (json_int_t)st->requests_waiting, "total", (json_int_t)st->requests_total,
        "tokens", "prompt", (json_int_t)st->prompt_tokens_total, "generated",
        (json_int_t)st->generation_tokens_total,
        "prefix_cache", "queried_tokens", (json_int_t)st->prefix_cache_queries, "hit_tokens",
        (json_int_t)st->prefix_cache_hits, "hit_rate",
        ratio(st->prefix_cache_hits, st->prefix_cache_queries),
        "kv_blocks", "total", (json_int_t)st->kv_blocks_total, "free",
        (json_int_t)st->kv_blocks_free,
        "offload", "hit_tokens", (json_int_t)st->offload_hit_tokens, "loaded_tokens",
        (json_int_t)st->offload_loaded_tokens, "stored_chunks",
        (json_int_t)st->offload_stored_chunks, "lookups", (json_int_t)ks->lookups,
        "lookup_hit_chunks", (json_int_t)ks->lookup_hit_chunks, "lookup_miss_chunks",
        (json_int_t)ks->lookup_miss_chunks, "lookup_hit_rate",
        ratio(ks->lookup_hit_chunks, ks->lookup_hit_chunks + ks->lookup_miss_chunks),
        "stores", (json_int_t)ks->puts, "dropped_stores", (json_int_t)ks->dropped_puts,
        "write_queue_bytes", (json_int_t)ks->write_queue_bytes, "load_seconds",
        histogram_json(&st->offload_load), "store_seconds", histogram_json(&st->offload_store),
        "tiers", tiers,
        "ttft_seconds", "all", histogram_json(&st->ttft), "cached",
        histogram_json(&st->ttft_cached), "cold", histogram_json(&st->ttft_cold));
}
