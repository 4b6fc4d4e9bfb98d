/* kvs_file_evict (kvs_admin.h): one eviction pass over a file tier directory. */
#include "cache/kvs_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/file_lease.h"
#include "cache/file_usage.h"

typedef struct victim {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
} victim;

typedef struct pass {
    victim *v;
    size_t n, cap;
    uint64_t used;
    uint64_t orphan_before_ns;
    kvs_evict_report *report;
    bool nomem;
} pass;

static int collect(void *ctx, const kvs_scan_entry *e)
{
    pass *p = ctx;
    if (e->is_temp && e->mtime_ns < (int64_t)p->orphan_before_ns) {
        p->report->metadata_ops++;
        if (unlink(e->path) == 0) {
            p->report->orphans_removed++;
            return 0;
        }
    }
    p->used += e->size;
    if (e->is_temp)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        victim *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->nomem = true;
            return 1;
        }
        p->v = v;
        p->cap = cap;
    }
    char *path = strdup(e->path);
    if (!path) {
        p->nomem = true;
        return 1;
    }
    p->v[p->n++] = (victim){path, e->size, e->mtime_ns};
    return 0;
}

static int by_mtime(const void *a, const void *b)
{
    const victim *x = a, *y = b;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

kvs_status kvs_file_evict(const char *root, const kvs_evict_params *params,
                          kvs_evict_report *report, kvs_error *err)
{
    memset(report, 0, sizeof *report);
    kvs_lease lease;
    bool acquired;
    kvs_status st = kvs_lease_acquire(&lease, root, params->owner, params->lease_ttl_ns,
                                      &acquired, err);
    report->metadata_ops += 2;
    if (st != KVS_OK)
        return st;
    if (!acquired) {
        report->lease_busy = true;
        return KVS_OK;
    }
    uint64_t now = kvs_lease_now_ns();
    report->scan_start_ns = now;
    pass p = {.report = report,
              .orphan_before_ns = now > params->orphan_age_ns ? now - params->orphan_age_ns : 0};
    st = kvs_file_scan(root, collect, &p, &report->metadata_ops, err);
    if (st == KVS_OK && p.nomem)
        st = kvs_fail(err, KVS_ERR_NOMEM, "evict %s: out of memory listing objects", root);
    report->used_before = p.used;
    report->objects_before = p.n;
    if (st == KVS_OK && p.used > params->trigger_bytes) {
        qsort(p.v, p.n, sizeof *p.v, by_mtime);
        for (size_t i = 0; i < p.n && p.used > params->target_bytes; i++) {
            if (!kvs_lease_renew(&lease)) {
                report->lease_lost = true;
                break;
            }
            report->metadata_ops++;
            /* ENOENT: another remover got there first; the bytes are gone either way. */
            if (unlink(p.v[i].path) == 0 || errno == ENOENT) {
                p.used -= p.v[i].size;
                report->evicted_objects++;
                report->evicted_bytes += p.v[i].size;
            }
        }
    }
    report->used_after = p.used;
    report->objects_after = p.n - report->evicted_objects;
    for (size_t i = 0; i < p.n; i++)
        free(p.v[i].path);
    free(p.v);
    if (st == KVS_OK && !report->lease_lost) {
        /* Stamped with the listing's start: writes after it may be missing from it. */
        kvs_usage_record rec = {report->used_after, report->objects_after, now};
        st = kvs_file_usage_write(root, &rec, err);
        report->metadata_ops += 2;
    }
    if (!report->lease_lost)
        kvs_lease_release(&lease);
    return st;
}
