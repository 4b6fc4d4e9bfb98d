/* The file tier (ARCHITECTURE.md §2, §5): one object per chunk under <root>/v1, published by
 * rename from a unique temp file, read whole and verified, evicted least-recently-used under a
 * lease. Data moves through io_uring (many chunks of a batch in flight) with O_DIRECT when the
 * file system accepts it (probed at open). Objects are whole 4096-byte blocks (the object
 * format pads the last segment), so O_DIRECT never meets a partial tail. Opened with GPU
 * operations (the gds tier) on a directory that passes the cuFile probe, it reads payloads into
 * device chunks and writes device chunks' payloads with cuFile (gds_io.h); host chunks, and
 * reads that find the GPU staging buffer full, stay on this path. */
#include "cache/tier_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache/device_chunk.h"
#include "cache/error.h"
#include "cache/file_estimate.h"
#include "cache/file_lease.h"
#include "cache/file_mode.h"
#include "cache/file_path.h"
#include "cache/file_presence.h"
#include "cache/file_usage.h"
#include "cache/gds_io.h"
#include "cache/io_streams.h"
#include "cache/object.h"
#include "cache/uring_io.h"

/* A file bigger than this is not read: its size comes from an untrusted directory. */
#define MAX_OBJECT_BYTES (1ull << 31)

typedef struct file_tier {
    kvs_tier base;
    char root[KVS_PATH_MAX];
    char writer_id[64];
    kvs_durability durability;
    mode_t file_mode, dir_mode; /* objects' bits and their directories' (file_mode.h) */
    unsigned io_depth;
    bool direct, uring;
    kvs_file_tier_tuning tune;
    uint64_t capacity;
    kvs_presence presence;
    pthread_mutex_t evict_lock;
    /* The gds path (gds_io.h): the staging buffer while GPUDirect Storage is used, and
     * how bytes move ("" when the tier was opened without GPU operations). */
    kvs_gds_staging *staging;
    char gds_io_path[sizeof ((kvs_tier_stats *)0)->io_path];
    atomic_uint_fast64_t hits, misses, bytes_read, bytes_written, puts, put_errors, get_errors,
        corrupt, evictions, read_ns, write_ns, metadata_ops, objects;
    kvs_dir_estimate estimate; /* the directory's size as the last scan and our writes say */
} file_tier;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count_ops(file_tier *t, uint64_t n)
{
    atomic_fetch_add_explicit(&t->metadata_ops, n, memory_order_relaxed);
}

/* Like kvs_fail_errno, but a vanished path is an I/O error of the tier, not a miss. */
static kvs_status io_fail(kvs_error *err, int errnum, const char *what, const char *path)
{
    kvs_status st = kvs_fail_errno(err, errnum, "%s %s", what, path);
    if (st == KVS_ERR_NOT_FOUND) {
        st = KVS_ERR_IO;
        err->code = st;
    }
    return st;
}

static void note(file_tier *t, const kvs_error *err)
{
    kvs_tier_note_error(&t->base, err);
}

/* ---- put -------------------------------------------------------------------------------- */

typedef struct put_item {
    char temp[KVS_PATH_MAX];
    char final[KVS_PATH_MAX];
} put_item;

typedef struct put_ctx {
    file_tier *t;
    kvs_chunk *const *chunks;
    put_item *items;
    kvs_status *status;
} put_ctx;

/* Creates <ns>/<k0k1>/<k2k3> below v1, which must exist: a vanished root is an error, not
 * something to recreate behind the operator's back. */
static kvs_status make_object_dir(file_tier *t, const char *dir, kvs_error *err)
{
    char path[KVS_PATH_MAX];
    size_t root_len = strlen(t->root) + strlen("/v1");
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + root_len + 1; ; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char saved = *p;
        *p = 0;
        count_ops(t, 1);
        int e = kvs_file_mkdir_mode(path, t->dir_mode);
        if (e != 0)
            return io_fail(err, e, "create directory", path);
        *p = saved;
        if (saved == 0)
            return KVS_OK;
    }
}

static int open_temp(file_tier *t, const put_item *it, const kvs_chunk *c, kvs_error *err,
                     kvs_status *st)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (t->direct ? O_DIRECT : 0);
    for (int attempt = 0; attempt < 2; attempt++) {
        count_ops(t, 1);
        int fd = open(it->temp, flags, t->file_mode);
        if (fd >= 0) {
            int e = kvs_file_fix_mode(fd, t->file_mode);
            if (e == 0)
                return fd;
            close(fd);
            unlink(it->temp);
            *st = io_fail(err, e, "chmod", it->temp);
            return -1;
        }
        if (errno != ENOENT || attempt == 1)
            break;
        char dir[KVS_PATH_MAX];
        kvs_file_object_dir(dir, sizeof dir, t->root, &c->info.ns, &c->info.key);
        if ((*st = make_object_dir(t, dir, err)) != KVS_OK)
            return -1;
    }
    *st = io_fail(err, errno, "create", it->temp);
    return -1;
}

/* Ends item i once its bytes are written to fd (st and err say how that went): fdatasync
 * when asked, close, rename into place; on any failure the temp file goes. */
static void put_publish(put_ctx *pc, size_t i, int fd, kvs_status st, kvs_error *err)
{
    file_tier *t = pc->t;
    put_item *it = &pc->items[i];
    if (st == KVS_OK && t->durability == KVS_DURABILITY_DATA && fdatasync(fd) != 0)
        st = io_fail(err, errno, "fdatasync", it->temp);
    if (close(fd) != 0 && st == KVS_OK)
        st = io_fail(err, errno, "close", it->temp);
    if (st == KVS_OK) {
        count_ops(t, 1);
        if (rename(it->temp, it->final) != 0)
            st = io_fail(err, errno, "rename to", it->final);
    }
    if (st != KVS_OK) {
        count_ops(t, 1);
        unlink(it->temp); /* never leave a partial object or its temp file behind */
        kvs_estimate_release(&t->estimate, pc->chunks[i]->total_size);
        note(t, err);
    } else {
        const kvs_chunk *c = pc->chunks[i];
        kvs_estimate_publish(&t->estimate, c->total_size, mono_ns(), kvs_lease_now_ns());
        kvs_presence_set(&t->presence, &c->info.key, KVS_PRESENCE_PRESENT, mono_ns());
        atomic_fetch_add(&t->bytes_written, c->total_size);
        atomic_fetch_add(&t->objects, 1);
    }
    pc->status[i] = st;
}

static bool put_start(void *ctx, size_t i, kvs_io_job *job)
{
    put_ctx *pc = ctx;
    file_tier *t = pc->t;
    kvs_chunk *c = pc->chunks[i];
    put_item *it = &pc->items[i];
    kvs_error err;
    char dir[KVS_PATH_MAX];
    if (!c || !c->sealed) {
        pc->status[i] = kvs_fail(&err, KVS_ERR_INVALID, "put: chunk %zu is not sealed", i);
        note(t, &err);
        return false;
    }
    if (c->external && !t->staging) {
        pc->status[i] = kvs_fail(&err, KVS_ERR_INVALID, "put %s: chunk %zu is in GPU memory and "
                                 "this tier has no GPUDirect path", t->root, i);
        note(t, &err);
        return false;
    }
    if (c->total_size > t->capacity) {
        pc->status[i] = kvs_fail(&err, KVS_ERR_FULL, "put %s: object of %zu bytes exceeds the "
                                 "capacity of %llu", t->root, c->total_size,
                                 (unsigned long long)t->capacity);
        note(t, &err);
        return false;
    }
    if (!kvs_estimate_claim(&t->estimate, c->total_size)) {
        pc->status[i] = kvs_fail(&err, KVS_ERR_FULL, "put %s: directory at its capacity of "
                                 "%llu bytes and eviction has not made room yet", t->root,
                                 (unsigned long long)t->capacity);
        note(t, &err);
        return false;
    }
    if (!kvs_file_object_dir(dir, sizeof dir, t->root, &c->info.ns, &c->info.key) ||
        !kvs_file_object_path(it->final, sizeof it->final, t->root, &c->info.ns, &c->info.key) ||
        !kvs_file_temp_path(it->temp, sizeof it->temp, dir, &c->info.key, t->writer_id)) {
        pc->status[i] = kvs_fail(&err, KVS_ERR_INVALID, "put: path too long under %s", t->root);
        kvs_estimate_release(&t->estimate, c->total_size);
        note(t, &err);
        return false;
    }
    kvs_status st = KVS_OK;
    int fd = open_temp(t, it, c, &err, &st);
    if (fd < 0) {
        pc->status[i] = st;
        kvs_estimate_release(&t->estimate, c->total_size);
        note(t, &err);
        return false;
    }
    if (c->external) { /* the payload goes from GPU memory with cuFileWrite, here and now */
        put_publish(pc, i, fd, kvs_gds_write_object(fd, it->temp, c, &err), &err);
        return false;
    }
    *job = (kvs_io_job){.fd = fd, .write = true, .buf = c->buf, .len = c->total_size,
                        .want = c->total_size};
    return true;
}

static void put_finish(void *ctx, size_t i, kvs_io_job *job)
{
    put_ctx *pc = ctx;
    const char *temp = pc->items[i].temp;
    kvs_error err;
    kvs_status st = KVS_OK;
    if (job->error)
        st = io_fail(&err, job->error, "write", temp);
    else if (job->done < job->want)
        st = kvs_fail(&err, KVS_ERR_IO, "write %s: short write (%zu of %zu bytes)", temp,
                      job->done, job->want);
    put_publish(pc, i, job->fd, st, &err);
}

/* Takes another process's usage record when it is newer than our own figure (our writes
 * logged after its scan began stay counted: file_estimate.h). */
static void adopt_usage(file_tier *t)
{
    kvs_usage_record rec;
    count_ops(t, 1);
    if (kvs_file_usage_read(t->root, &rec) &&
        kvs_estimate_take_record(&t->estimate, rec.used_bytes, rec.at_ns))
        atomic_store(&t->objects, rec.objects);
}

/* Caller holds evict_lock. Evicts when the directory holds more than capacity - headroom
 * (the bytes a waiting batch needs), down to the low watermark. */
static kvs_status evict_pass(file_tier *t, uint64_t headroom, kvs_evict_report *report,
                             kvs_error *err)
{
    kvs_evict_params params = {
        .trigger_bytes = t->capacity > headroom ? t->capacity - headroom : 0,
        .target_bytes = t->capacity / 100 * t->tune.low_watermark_pct,
        .orphan_age_ns = t->tune.orphan_age_ns,
        .lease_ttl_ns = t->tune.lease_ttl_ns,
        .owner = t->writer_id,
    };
    uint64_t began = mono_ns(); /* before the listing: what it may miss stays counted */
    kvs_status st = kvs_file_evict(t->root, &params, report, err);
    count_ops(t, report->metadata_ops);
    if (st == KVS_OK && !report->lease_busy) {
        kvs_estimate_own_scan(&t->estimate, report->used_after, began, report->scan_start_ns);
        atomic_store(&t->objects, report->objects_after);
        atomic_fetch_add(&t->evictions, report->evicted_objects);
    } else if (report->lease_busy) {
        /* Another process is evicting; its last pass may be newer than ours. */
        adopt_usage(t);
    }
    return st;
}

/* After writing: rescan (and evict if over capacity) when the directory may be over
 * capacity, or this process has written scan_every_pct of it since its figure's scan. */
static void maybe_evict(file_tier *t)
{
    uint64_t every = t->capacity / 100 * t->tune.scan_every_pct;
    uint64_t unscanned = kvs_estimate_unscanned(&t->estimate);
    if (unscanned == 0 || (kvs_estimate_bytes(&t->estimate) <= t->capacity && unscanned < every))
        return;
    if (pthread_mutex_trylock(&t->evict_lock) != 0)
        return; /* another thread of this process is on it */
    kvs_evict_report report;
    kvs_error err;
    if (evict_pass(t, 0, &report, &err) != KVS_OK)
        note(t, &err);
    pthread_mutex_unlock(&t->evict_lock);
}

/* Before a batch of `need` bytes: when it would take the directory past its capacity,
 * evict first (waiting for a thread of ours that is already at it), so that writers never
 * outrun eviction. While another process holds the lease, wait up to lease_wait_ns for the
 * usage record its pass leaves (or for the lease to come free); past that, the claim
 * refuses what does not fit. */
static void make_room(file_tier *t, uint64_t need)
{
    if (kvs_estimate_bytes(&t->estimate) + need <= t->capacity)
        return;
    pthread_mutex_lock(&t->evict_lock);
    uint64_t deadline = mono_ns() + t->tune.lease_wait_ns;
    while (kvs_estimate_bytes(&t->estimate) + need > t->capacity) {
        kvs_evict_report report;
        kvs_error err;
        if (evict_pass(t, need, &report, &err) != KVS_OK) {
            note(t, &err);
            break;
        }
        if (!report.lease_busy || mono_ns() >= deadline)
            break;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    pthread_mutex_unlock(&t->evict_lock);
}

/* cuFile reads and writes are synchronous: one stream would move a batch's chunks one at a
 * time, where io_uring keeps io_depth of them in flight. A gds batch is spread over
 * GDS_STREAMS threads instead (cuFile is thread-safe; each call binds the GPU). */
#define GDS_STREAMS 4u

static unsigned batch_streams(const file_tier *t)
{
    return t->staging && t->tune.streams < GDS_STREAMS ? GDS_STREAMS : t->tune.streams;
}

static void file_put(kvs_tier *tier, kvs_chunk *const *chunks, size_t n, kvs_status *status)
{
    file_tier *t = (file_tier *)tier;
    put_item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) {
        for (size_t i = 0; i < n; i++)
            status[i] = KVS_ERR_NOMEM;
        atomic_fetch_add(&t->put_errors, n);
        return;
    }
    uint64_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += chunks[i] ? chunks[i]->total_size : 0;
    make_room(t, need);
    uint64_t t0 = mono_ns();
    put_ctx pc = {t, chunks, items, status};
    kvs_io_run_streams(t->uring, t->io_depth, batch_streams(t), n, put_start, put_finish, &pc);
    atomic_fetch_add(&t->write_ns, mono_ns() - t0);
    free(items);
    for (size_t i = 0; i < n; i++) {
        atomic_fetch_add(&t->puts, 1);
        if (status[i] != KVS_OK)
            atomic_fetch_add(&t->put_errors, 1);
    }
    maybe_evict(t);
}

/* ---- get -------------------------------------------------------------------------------- */

typedef struct get_ctx {
    file_tier *t;
    const kvs_key *ns;
    const kvs_chunk_request *reqs;
    kvs_chunk **out;
    kvs_status *status;
    char (*paths)[KVS_PATH_MAX];
    int64_t *mtime_ns;
} get_ctx;

static void drop_corrupt(file_tier *t, const char *path, const kvs_key *key, kvs_error *err)
{
    count_ops(t, 1);
    unlink(path);
    atomic_fetch_add(&t->corrupt, 1);
    atomic_fetch_add(&t->misses, 1);
    kvs_presence_set(&t->presence, key, KVS_PRESENCE_ABSENT, mono_ns());
    note(t, err);
}

/* Ends item i of a get: the chunk read from fd (object_size bytes), or st and err saying
 * why not. A hit is a use (mtime touched, rate-limited); a corrupt object is removed. */
static void get_settle(get_ctx *gc, size_t i, int fd, size_t object_size, kvs_status st,
                       kvs_chunk *chunk, kvs_error *err)
{
    file_tier *t = gc->t;
    const kvs_chunk_request *req = &gc->reqs[i];
    if (st == KVS_OK) {
        gc->out[i] = chunk;
        atomic_fetch_add(&t->hits, 1);
        atomic_fetch_add(&t->bytes_read, object_size);
        kvs_presence_set(&t->presence, &req->key, KVS_PRESENCE_PRESENT, mono_ns());
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        if (now_ns - gc->mtime_ns[i] > (int64_t)t->tune.touch_interval_ns) {
            count_ops(t, 1);
            futimens(fd, NULL); /* LRU: a hit is a use */
        }
    } else if (st == KVS_ERR_CORRUPT) {
        drop_corrupt(t, gc->paths[i], &req->key, err);
    } else {
        atomic_fetch_add(&t->get_errors, 1);
        note(t, err);
    }
    close(fd);
    gc->status[i] = st;
}

static bool get_start(void *ctx, size_t i, kvs_io_job *job)
{
    get_ctx *gc = ctx;
    file_tier *t = gc->t;
    const kvs_key *key = &gc->reqs[i].key;
    char *path = gc->paths[i];
    kvs_error err;
    gc->out[i] = NULL;
    if (!kvs_file_object_path(path, KVS_PATH_MAX, t->root, gc->ns, key)) {
        gc->status[i] = kvs_fail(&err, KVS_ERR_INVALID, "get: path too long under %s", t->root);
        return false;
    }
    count_ops(t, 2); /* open + fstat */
    int fd = open(path, O_RDONLY | O_CLOEXEC | (t->direct ? O_DIRECT : 0));
    if (fd < 0) {
        if (errno == ENOENT) {
            gc->status[i] = KVS_ERR_NOT_FOUND;
            atomic_fetch_add(&t->misses, 1);
            kvs_presence_set(&t->presence, key, KVS_PRESENCE_ABSENT, mono_ns());
        } else {
            gc->status[i] = io_fail(&err, errno, "open", path);
            atomic_fetch_add(&t->get_errors, 1);
            note(t, &err);
        }
        return false;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        gc->status[i] = io_fail(&err, errno, "stat", path);
        atomic_fetch_add(&t->get_errors, 1);
        note(t, &err);
        close(fd);
        return false;
    }
    uint64_t size = (uint64_t)sb.st_size;
    gc->mtime_ns[i] = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (size < KVS_OBJECT_ALIGN || size > MAX_OBJECT_BYTES) {
        kvs_fail(&err, KVS_ERR_CORRUPT, "get %s: size %llu is not an object's", path,
                 (unsigned long long)size);
        get_settle(gc, i, fd, 0, KVS_ERR_CORRUPT, NULL, &err);
        return false;
    }
    if (t->staging) { /* straight into GPU memory, unless cuFile cannot take it now */
        kvs_chunk *c;
        kvs_status st = kvs_gds_read_object(t->staging, fd, path, size, gc->ns, &gc->reqs[i], &c,
                                            &err);
        if (st != KVS_ERR_UNSUPPORTED) {
            get_settle(gc, i, fd, size, st, c, &err);
            return false;
        }
    }
    uint8_t *buf = kvs_object_alloc_buffer(size);
    if (!buf) {
        kvs_fail(&err, KVS_ERR_NOMEM, "get %s: cannot allocate %llu bytes", path,
                 (unsigned long long)size);
        get_settle(gc, i, fd, 0, KVS_ERR_NOMEM, NULL, &err);
        return false;
    }
    size_t len = (size + KVS_OBJECT_ALIGN - 1) / KVS_OBJECT_ALIGN * KVS_OBJECT_ALIGN;
    *job = (kvs_io_job){.fd = fd, .write = false, .buf = buf, .len = len, .want = size};
    return true;
}

static void get_finish(void *ctx, size_t i, kvs_io_job *job)
{
    get_ctx *gc = ctx;
    const kvs_chunk_request *req = &gc->reqs[i];
    const char *path = gc->paths[i];
    kvs_error err;
    kvs_status st;
    kvs_chunk *c = NULL;
    if (job->error) {
        st = io_fail(&err, job->error, "read", path);
        kvs_object_free_buffer(job->buf);
    } else if (job->done < job->want) {
        st = kvs_fail(&err, KVS_ERR_CORRUPT, "read %s: short file (%zu of %zu bytes)", path,
                      job->done, job->want);
        kvs_object_free_buffer(job->buf);
    } else {
        kvs_error verr;
        st = kvs_object_from_bytes(job->buf, job->want, gc->ns, &req->key, req->tokens,
                                   req->n_tokens, &c, &verr);
        if (st != KVS_OK)
            kvs_fail(&err, st, "get %s: %s", path, verr.msg);
    }
    get_settle(gc, i, job->fd, job->want, st, c, &err);
}

static void file_get(kvs_tier *tier, const kvs_key *ns, const kvs_chunk_request *reqs, size_t n,
                     kvs_chunk **out, kvs_status *status)
{
    file_tier *t = (file_tier *)tier;
    char (*paths)[KVS_PATH_MAX] = calloc(n ? n : 1, sizeof *paths);
    int64_t *mtimes = calloc(n ? n : 1, sizeof *mtimes);
    if (!paths || !mtimes) {
        for (size_t i = 0; i < n; i++) {
            out[i] = NULL;
            status[i] = KVS_ERR_NOMEM;
        }
        free(paths);
        free(mtimes);
        return;
    }
    uint64_t t0 = mono_ns();
    get_ctx gc = {t, ns, reqs, out, status, paths, mtimes};
    kvs_io_run_streams(t->uring, t->io_depth, batch_streams(t), n, get_start, get_finish, &gc);
    atomic_fetch_add(&t->read_ns, mono_ns() - t0);
    free(paths);
    free(mtimes);
}

/* ---- lookup, remove, stats ---------------------------------------------------------------- */

static bool present(file_tier *t, const kvs_key *ns, const kvs_key *key)
{
    uint64_t now = mono_ns();
    kvs_presence_state known = kvs_presence_get(&t->presence, key, now);
    if (known != KVS_PRESENCE_UNKNOWN)
        return known == KVS_PRESENCE_PRESENT;
    char path[KVS_PATH_MAX];
    struct stat sb;
    if (!kvs_file_object_path(path, sizeof path, t->root, ns, key))
        return false;
    count_ops(t, 1);
    bool yes = stat(path, &sb) == 0;
    kvs_presence_set(&t->presence, key, yes ? KVS_PRESENCE_PRESENT : KVS_PRESENCE_ABSENT, now);
    return yes;
}

/* Binary search for the first absent key, trusting that presence is prefix-closed. */
static size_t file_contains_prefix(kvs_tier *tier, const kvs_key *ns, const kvs_key *keys,
                                   size_t n)
{
    file_tier *t = (file_tier *)tier;
    size_t lo = 0, hi = n; /* keys[0..lo) present; keys[hi..n) absent */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (present(t, ns, &keys[mid - 1]))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static kvs_status file_remove(kvs_tier *tier, const kvs_key *ns, const kvs_key *key,
                              kvs_error *err)
{
    file_tier *t = (file_tier *)tier;
    char path[KVS_PATH_MAX];
    if (!kvs_file_object_path(path, sizeof path, t->root, ns, key))
        return kvs_fail(err, KVS_ERR_INVALID, "remove: path too long under %s", t->root);
    kvs_presence_set(&t->presence, key, KVS_PRESENCE_ABSENT, mono_ns());
    count_ops(t, 1);
    if (unlink(path) != 0 && errno != ENOENT)
        return io_fail(err, errno, "remove", path);
    return KVS_OK;
}

static void file_stats(kvs_tier *tier, kvs_tier_stats *out)
{
    file_tier *t = (file_tier *)tier;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", t->base.name);
    out->hits = atomic_load(&t->hits);
    out->misses = atomic_load(&t->misses);
    out->bytes_read = atomic_load(&t->bytes_read);
    out->bytes_written = atomic_load(&t->bytes_written);
    out->puts = atomic_load(&t->puts);
    out->put_errors = atomic_load(&t->put_errors);
    out->get_errors = atomic_load(&t->get_errors);
    out->corrupt = atomic_load(&t->corrupt);
    out->evictions = atomic_load(&t->evictions);
    out->used_bytes = kvs_estimate_bytes(&t->estimate);
    out->capacity_bytes = t->capacity;
    out->objects = atomic_load(&t->objects);
    out->read_ns = atomic_load(&t->read_ns);
    out->write_ns = atomic_load(&t->write_ns);
    out->metadata_ops = atomic_load(&t->metadata_ops);
    snprintf(out->io_path, sizeof out->io_path, "%s",
             t->gds_io_path[0] ? t->gds_io_path : kvs_tier_file_io_mode(tier));
    pthread_mutex_lock(&t->base.error_lock);
    snprintf(out->last_error, sizeof out->last_error, "%s", t->base.last_error);
    pthread_mutex_unlock(&t->base.error_lock);
}

static void file_close(kvs_tier *tier)
{
    file_tier *t = (file_tier *)tier;
    kvs_gds_staging_unref(t->staging);
    kvs_presence_destroy(&t->presence);
    pthread_mutex_destroy(&t->evict_lock);
    kvs_estimate_destroy(&t->estimate);
    kvs_tier_base_destroy(&t->base);
    free(t);
}

/* The gds path's device payloads (tier.h). */
static kvs_status file_device_payload(kvs_tier *tier, kvs_chunk *chunk, kvs_error *err)
{
    file_tier *t = (file_tier *)tier;
    if (!t->staging)
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "device chunk %u: the %s tier uses %s",
                        chunk->info.chunk_index, t->base.name, t->gds_io_path);
    return kvs_device_payload_new(t->staging, chunk, err);
}

static bool file_takes_device_chunks(const kvs_tier *tier)
{
    return ((const file_tier *)tier)->staging != NULL;
}

static const kvs_tier_methods file_methods = {
    .contains_prefix = file_contains_prefix,
    .get = file_get,
    .put = file_put,
    .remove = file_remove,
    .stats = file_stats,
    .close = file_close,
};

/* A file tier opened with GPU operations (the gds tier) has device payloads. */
static const kvs_tier_device_methods gds_device_methods = {
    .new_payload = file_device_payload,
    .takes_chunks = file_takes_device_chunks,
};

/* ---- open ------------------------------------------------------------------------------- */

/* Whether the directory takes O_DIRECT: an aligned write and read of a probe file.
 * tmpfs refuses the open (EINVAL); some FUSE and NFS setups refuse the I/O. */
static kvs_status probe_direct(const char *v1, bool *direct, kvs_error *err)
{
    char path[KVS_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/.probe.%ld.%llx", v1, (long)getpid(),
                 (unsigned long long)mono_ns()) >= (int)sizeof path)
        return kvs_fail(err, KVS_ERR_INVALID, "cache directory path too long: %s", v1);
    *direct = false;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600);
    if (fd < 0 && errno == EINVAL)
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    else if (fd >= 0)
        *direct = true;
    if (fd < 0)
        return io_fail(err, errno, "create", path);
    uint8_t *buf = kvs_object_alloc_buffer(KVS_OBJECT_ALIGN);
    kvs_status st = KVS_OK;
    if (!buf)
        st = kvs_fail(err, KVS_ERR_NOMEM, "probe %s: out of memory", path);
    else {
        memset(buf, 0x5a, KVS_OBJECT_ALIGN);
        ssize_t w = pwrite(fd, buf, KVS_OBJECT_ALIGN, 0);
        if (w < 0 && !(*direct && errno == EINVAL))
            st = io_fail(err, errno, "write", path);
        else if (*direct && (w != KVS_OBJECT_ALIGN || pread(fd, buf, KVS_OBJECT_ALIGN, 0) !=
                                                          KVS_OBJECT_ALIGN))
            *direct = false;
    }
    kvs_object_free_buffer(buf);
    close(fd);
    unlink(path);
    return st;
}

void kvs_file_tier_default_tuning(kvs_file_tier_tuning *tuning)
{
    *tuning = (kvs_file_tier_tuning){
        .orphan_age_ns = 600ull * 1000000000ull,
        .lease_ttl_ns = 30ull * 1000000000ull,
        .touch_interval_ns = 60ull * 1000000000ull,
        .present_ttl_ns = 60ull * 1000000000ull,
        .absent_ttl_ns = 2ull * 1000000000ull,
        .index_slots = 65536,
        .low_watermark_pct = 90,
        .scan_every_pct = 10,
        .lease_wait_ns = 200ull * 1000000ull,
        .streams = 1,
    };
}

static kvs_status make_dir(const char *path, mode_t mode, kvs_error *err)
{
    int e = kvs_file_mkdir_mode(path, mode);
    if (e != 0)
        return io_fail(err, e, "create directory", path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return io_fail(err, errno, "stat", path);
    if (!S_ISDIR(sb.st_mode))
        return kvs_fail(err, KVS_ERR_IO, "cache directory %s: not a directory", path);
    return KVS_OK;
}

kvs_status kvs_tier_file_open_tuned(const kvs_file_tier_options *opts,
                                    const kvs_file_tier_tuning *tuning, kvs_tier **out,
                                    kvs_error *err)
{
    *out = NULL;
    if (!opts || !opts->root || !*opts->root)
        return kvs_fail(err, KVS_ERR_INVALID, "file tier: no directory given");
    if (strlen(opts->root) > KVS_PATH_MAX - 256)
        return kvs_fail(err, KVS_ERR_INVALID, "file tier: directory path too long: %.64s...",
                        opts->root);
    file_tier *t = calloc(1, sizeof *t);
    if (!t)
        return kvs_fail(err, KVS_ERR_NOMEM, "file tier %s: out of memory", opts->root);
    snprintf(t->root, sizeof t->root, "%s", opts->root);
    if (opts->writer_id && *opts->writer_id)
        snprintf(t->writer_id, sizeof t->writer_id, "%s", opts->writer_id);
    else
        snprintf(t->writer_id, sizeof t->writer_id, "pid%ld", (long)getpid());
    t->durability = opts->durability;
    t->file_mode = opts->file_mode ? (mode_t)opts->file_mode : KVS_FILE_MODE_DEFAULT;
    t->dir_mode = kvs_file_dir_mode(t->file_mode);
    t->io_depth = opts->io_depth ? opts->io_depth : 32;
    t->tune = *tuning;
    if (t->tune.low_watermark_pct == 0 || t->tune.low_watermark_pct > 100)
        t->tune.low_watermark_pct = 90;
    char v1[KVS_PATH_MAX];
    kvs_file_v1_dir(v1, sizeof v1, t->root);
    kvs_status st = make_dir(t->root, t->dir_mode, err);
    if (st == KVS_OK)
        st = make_dir(v1, t->dir_mode, err);
    if (st == KVS_OK)
        st = probe_direct(v1, &t->direct, err);
    if (st == KVS_OK && t->tune.force_buffered)
        t->direct = false;
    t->uring = !t->tune.no_uring && kvs_io_uring_available();
    t->capacity = opts->capacity_bytes;
    if (st == KVS_OK && t->capacity == 0) {
        struct statvfs vfs;
        if (statvfs(t->root, &vfs) != 0)
            st = io_fail(err, errno, "statvfs", t->root);
        else
            t->capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize / 10 * 9;
    }
    if (st == KVS_OK)
        st = kvs_presence_init(&t->presence, t->tune.index_slots, t->tune.present_ttl_ns,
                               t->tune.absent_ttl_ns, err);
    if (st != KVS_OK) {
        free(t);
        return st;
    }
    if (opts->gpu)
        t->staging = kvs_gds_start(opts->gpu, opts->cufile_buffer_size, v1, t->direct,
                                   t->gds_io_path, sizeof t->gds_io_path);
    pthread_mutex_init(&t->evict_lock, NULL);
    kvs_estimate_init(&t->estimate, t->capacity);
    kvs_tier_base_init(&t->base, &file_methods, opts->name ? opts->name : "local_disk");
    if (opts->gpu)
        t->base.device = &gds_device_methods;
    *out = &t->base;
    return KVS_OK;
}

kvs_status kvs_tier_file_open(const kvs_file_tier_options *opts, kvs_tier **out, kvs_error *err)
{
    kvs_file_tier_tuning tuning;
    kvs_file_tier_default_tuning(&tuning);
    return kvs_tier_file_open_tuned(opts, &tuning, out, err);
}

const char *kvs_tier_file_io_mode(const kvs_tier *tier)
{
    const file_tier *t = (const file_tier *)tier;
    if (t->uring)
        return t->direct ? "io_uring+O_DIRECT" : "io_uring+buffered";
    return t->direct ? "pread+O_DIRECT" : "pread+buffered";
}

kvs_gds_staging *kvs_tier_file_staging(const kvs_tier *tier)
{
    return ((const file_tier *)tier)->staging;
}

bool kvs_tier_file_uses_direct(const kvs_tier *tier)
{
    return ((const file_tier *)tier)->direct;
}

kvs_status kvs_tier_file_evict_now(kvs_tier *tier, kvs_evict_report *report, kvs_error *err)
{
    file_tier *t = (file_tier *)tier;
    pthread_mutex_lock(&t->evict_lock);
    kvs_status st = evict_pass(t, 0, report, err);
    pthread_mutex_unlock(&t->evict_lock);
    return st;
}
