/* The tier interface (ARCHITECTURE.md §5): one struct of function pointers per kind of storage,
 * in the manner of SQLite's sqlite3_io_methods. The cache engine (cache.c) owns policy —
 * which tiers to write and read, promotion, single-flight, the write budget — and calls
 * tiers from its I/O threads, so a tier's batch calls may block on I/O; inside a batch a
 * tier keeps many chunks in flight (io_uring, pipelining).
 *
 * Every method is safe to call from several threads at once. */
#ifndef KVSPILL_CACHE_TIER_H
#define KVSPILL_CACHE_TIER_H

#include <pthread.h>

#include "kvspill.h"

typedef struct kvs_tier kvs_tier;

typedef struct kvs_tier_methods {
    /* How many leading keys of keys[0..n) the tier holds. A tier may assume presence is
     * prefix-closed and binary-search; the loader truncates at the first failed get. */
    size_t (*contains_prefix)(kvs_tier *tier, const kvs_key *ns, const kvs_key *keys, size_t n);

    /* Loads a batch. For each i: out[i] gets a verified chunk (one reference for the
     * caller) and status[i] = KVS_OK, or out[i] = NULL and status[i] says why
     * (KVS_ERR_NOT_FOUND, KVS_ERR_CORRUPT — the object was removed —, KVS_ERR_IO, ...). */
    void (*get)(kvs_tier *tier, const kvs_key *ns, const kvs_chunk_request *reqs, size_t n,
                kvs_chunk **out, kvs_status *status);

    /* Stores a batch of sealed chunks (the tier takes no reference; it copies or writes
     * before returning). status[i] for each. */
    void (*put)(kvs_tier *tier, kvs_chunk *const *chunks, size_t n, kvs_status *status);

    /* Removes one object; removing an absent object is KVS_OK. */
    kvs_status (*remove)(kvs_tier *tier, const kvs_key *ns, const kvs_key *key, kvs_error *err);

    void (*stats)(kvs_tier *tier, kvs_tier_stats *out);

    /* Frees the tier. No call is in flight. */
    void (*close)(kvs_tier *tier);
} kvs_tier_methods;

/* A capability a tier may have: device-resident payloads, chunks whose payload lives in
 * device memory that the tier reads and writes directly (the gds tier: a slot of its GPU
 * staging buffer; device_chunk.h). */
typedef struct kvs_tier_device_methods {
    /* Gives a chunk whose buf holds the header only (kvs_object_new_chunk without payload)
     * a payload in the tier's device memory, or fails: KVS_ERR_UNSUPPORTED with the reason
     * when the tier cannot now, KVS_ERR_FULL when its device memory is taken. */
    kvs_status (*new_payload)(kvs_tier *tier, kvs_chunk *chunk, kvs_error *err);
    /* Whether put takes such chunks as they are (and get may return them) now; the cache
     * engine gives every other tier a host copy. */
    bool (*takes_chunks)(const kvs_tier *tier);
} kvs_tier_device_methods;

/* Every tier struct starts with this. */
struct kvs_tier {
    const kvs_tier_methods *methods;
    const kvs_tier_device_methods *device; /* NULL: the tier keeps host bytes only */
    char name[16];
    /* The last error a tier hit, for stats and logs (stats copy it out). */
    pthread_mutex_t error_lock;
    char last_error[KVS_ERROR_MSG_MAX];
};

/* Records err's message as the tier's last error (thread-safe). */
void kvs_tier_note_error(kvs_tier *tier, const kvs_error *err);
void kvs_tier_base_init(kvs_tier *tier, const kvs_tier_methods *methods, const char *name);
void kvs_tier_base_destroy(kvs_tier *tier);

/* Constructors. Each returns an error naming the path or URL and the cause. */
kvs_status kvs_tier_mem_open(uint64_t capacity_bytes, kvs_tier **out, kvs_error *err);

typedef struct kvs_file_tier_options {
    const char *name;          /* "local_disk" or "gds" */
    const char *root;          /* the directory; objects live under <root>/v1/ */
    uint64_t capacity_bytes;   /* for the whole directory, shared by all nodes; 0 = 90% of fs */
    kvs_durability durability;
    uint32_t io_depth;         /* chunks in flight per batch */
    const char *writer_id;
    uint32_t file_mode;        /* objects' permission bits (file_mode.h); 0 = 0600 */
    /* The gds path (gds_io.h): with GPU operations the tier reads and writes payloads with
     * cuFile through a registered GPU staging buffer of cufile_buffer_size bytes, when
     * libcufile loads and the directory passes the probe; NULL = POSIX only. */
    const kvs_gpu_ops *gpu;
    uint64_t cufile_buffer_size;
} kvs_file_tier_options;

kvs_status kvs_tier_file_open(const kvs_file_tier_options *opts, kvs_tier **out, kvs_error *err);

typedef struct kvs_redis_tier_options {
    const char *url;           /* redis://[user:password@]host:port[/db] */
    uint32_t pool_size;        /* connections (default: io_threads) */
    uint32_t connect_timeout_ms;
    uint32_t command_timeout_ms;
} kvs_redis_tier_options;

/* Fails at open when the server cannot be reached or refuses the credentials. */
kvs_status kvs_tier_redis_open(const kvs_redis_tier_options *opts, kvs_tier **out, kvs_error *err);

#endif
