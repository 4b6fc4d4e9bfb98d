/* kvspill — KV-cache offload library (libkvspill).
 *
 * An inference engine hands the library chunks of KV cache and gets them back later, from
 * host RAM, a local or shared directory, or Redis, in this process or another one, on this
 * node or another that shares the storage. The library knows bytes, keys and tiers, never
 * models: the engine describes its KV layout and fills or reads the payload segments.
 *
 * Conventions
 * - Every function that can fail returns kvs_status; when `err` is not NULL it also gets a
 *   message naming the thing and the cause ("open /mnt/kv/v1/...: Permission denied").
 *   The library never prints.
 * - Handles are opaque. Objects returned with a reference (kvs_chunk) are released by the
 *   caller; borrowed pointers are valid as long as the object they came from.
 * - Thread safety: a kvs_cache may be used from any number of threads at once. A kvs_batch
 *   belongs to one thread at a time.
 *
 * Keys (docs/ARCHITECTURE.md §3): k_i = SHA-256(k_{i-1} || le32(tokens of chunk i)), k_{-1} =
 * namespace id, the SHA-256 of everything that makes KV bytes incompatible (model fingerprint,
 * KV dtype, layout, RoPE, tensor-parallel rank and size, cache_salt).
 */
#ifndef KVSPILL_H
#define KVSPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ------------------------------------------------------------------------- */

typedef enum kvs_status {
    KVS_OK = 0,
    KVS_ERR_INVALID,     /* bad argument or configuration */
    KVS_ERR_NOMEM,       /* allocation failed */
    KVS_ERR_IO,          /* the operating system refused an I/O operation */
    KVS_ERR_NOT_FOUND,   /* no such object (a miss) */
    KVS_ERR_CORRUPT,     /* an object failed verification; it was treated as a miss */
    KVS_ERR_FULL,        /* a capacity or a device is full */
    KVS_ERR_DROPPED,     /* a put was dropped: the write queue is over its byte budget */
    KVS_ERR_TIMEOUT,     /* a wait ran out of time; the operation is still in flight */
    KVS_ERR_UNSUPPORTED, /* the feature is not available in this build or on this system */
    KVS_ERR_CLOSED,      /* the cache is closing */
    KVS_ERR_REMOTE,      /* a remote server answered with an error or went away */
} kvs_status;

#define KVS_ERROR_MSG_MAX 512

typedef struct kvs_error {
    kvs_status code;
    char msg[KVS_ERROR_MSG_MAX];
} kvs_error;

/* A short constant name for a status ("io error", "corrupt object", ...). */
const char *kvs_status_str(kvs_status s);

/* ---- Keys and namespaces ------------------------------------------------------------ */

#define KVS_KEY_BYTES 32
#define KVS_KEY_HEX_LEN (2 * KVS_KEY_BYTES)

typedef struct kvs_key {
    uint8_t b[KVS_KEY_BYTES];
} kvs_key;

/* Writes 64 lowercase hex digits and a NUL into out (KVS_KEY_HEX_LEN + 1 bytes). */
void kvs_key_hex(const kvs_key *key, char *out);
/* Parses 64 hex digits; KVS_ERR_INVALID on anything else. */
kvs_status kvs_key_parse(const char *hex, kvs_key *key);
bool kvs_key_equal(const kvs_key *a, const kvs_key *b);

typedef enum kvs_dtype {
    KVS_DTYPE_F32 = 0,
    KVS_DTYPE_F16 = 1,
    KVS_DTYPE_BF16 = 2,
    /* Quantized (an offload codec, LMCACHE_KV_CODEC): each position's row of a segment is
     * n_kv_heads f32 scales, then n_kv_heads x head_dim one-byte values (value x scale is
     * the element). kvs_dtype_size gives the value's size; kvs_segment_bytes counts the
     * scales. */
    KVS_DTYPE_INT8 = 3,
    KVS_DTYPE_FP8_E4M3 = 4,
    KVS_DTYPE_COUNT
} kvs_dtype;

size_t kvs_dtype_size(kvs_dtype dtype);
const char *kvs_dtype_name(kvs_dtype dtype);

/* The shape of one chunk's KV: for each layer, K then V, each [tokens][kv_heads][head_dim]
 * (a quantized dtype adds each row's scales, above). */
typedef struct kvs_layout {
    uint32_t n_layers;
    uint32_t n_kv_heads;
    uint32_t head_dim;
    kvs_dtype dtype;
} kvs_layout;

/* Everything that makes KV bytes of two engines incompatible. Two engines share chunks
 * exactly when they build equal descriptions. */
typedef struct kvs_namespace_desc {
    uint8_t model_fingerprint[32]; /* e.g. SHA-256 of the model file's metadata and tensors */
    kvs_layout layout;
    uint32_t rope_type;            /* engine-defined code for the RoPE style */
    uint32_t rope_dim;             /* rotated dimensions per head */
    float rope_freq_base;
    float rope_freq_scale;
    uint32_t layout_version;       /* the engine's KV layout version */
    uint32_t tp_rank;
    uint32_t tp_size;
    const char *cache_salt;        /* per-tenant isolation; NULL or "" for none */
} kvs_namespace_desc;

/* The namespace id: SHA-256 of a canonical encoding of the description. */
kvs_status kvs_namespace_id(const kvs_namespace_desc *desc, kvs_key *ns, kvs_error *err);

/* One step of the chain: key = SHA-256(parent || le32(tokens[0..n))). */
void kvs_key_next(const kvs_key *parent, const int32_t *tokens, size_t n_tokens, kvs_key *key);

/* A chunk holds at most this many tokens (the object format's bound on a header). */
#define KVS_CHUNK_MAX_TOKENS (1u << 20)

/* Keys of every chunk of tokens[0..n_tokens): full chunks of chunk_size, plus the trailing
 * partial chunk when include_partial. Writes at most max_keys keys; *n_keys gets the count
 * of chunks (which may exceed max_keys: KVS_ERR_INVALID then). */
kvs_status kvs_chunk_keys(const kvs_key *ns, const int32_t *tokens, size_t n_tokens,
                          uint32_t chunk_size, bool include_partial, kvs_key *keys,
                          size_t max_keys, size_t *n_keys, kvs_error *err);

/* ---- Configuration ------------------------------------------------------------------ */

#define KVS_PATH_MAX 4096
#define KVS_URL_MAX 1024

typedef enum kvs_durability {
    KVS_DURABILITY_NONE = 0, /* publish by rename only */
    KVS_DURABILITY_DATA = 1, /* fdatasync the object before the rename */
} kvs_durability;

/* Field names follow LMCache's keys (LMCACHE_<KEY> in the environment, <key> in YAML). */
typedef struct kvs_config {
    bool local_cpu;                 /* host RAM tier on (default true) */
    uint64_t max_local_cpu_size;    /* bytes (LMCache gives GB; default 5 GB) */
    char local_disk[KVS_PATH_MAX];  /* local directory ("file:///path" or a path; "" = off) */
    uint64_t max_local_disk_size;   /* bytes; the local disk tier is on only when > 0 */
    char gds_path[KVS_PATH_MAX];    /* shared directory ("" = off) */
    uint64_t max_gds_size;          /* bytes for the whole shared directory; 0 = 90% of the
                                       file system's size at open */
    uint64_t cufile_buffer_size;    /* bytes of GPU staging buffer (LMCache gives MiB) */
    char remote_url[KVS_URL_MAX];   /* redis://[user:password@]host:port[/db] ("" = off) */
    kvs_durability durability;      /* file tiers (default none) */
    uint64_t max_write_queue_size;  /* bytes of puts queued for slow tiers before dropping
                                       (default 1 GiB) */
    uint32_t io_threads;            /* threads serving tier I/O (default 4) */
    uint32_t io_depth;              /* chunks in flight per file-tier batch (default 32) */
    char writer_id[64];             /* written into every object header (default host:pid) */
    uint32_t file_mode;             /* permission bits of the file tiers' objects (file_mode,
                                       octal, default 0600: KV tensors reveal their prompt);
                                       directories get the matching search bits (0700).
                                       Exact, whatever the umask. */
    const struct kvs_gpu_ops *gpu;  /* set by an engine whose KV cache is on a GPU (below);
                                       NULL = host only. Must outlive the cache. */
} kvs_config;

/* Fills the defaults above. */
void kvs_config_init(kvs_config *cfg);

/* Reads LMCACHE_CONFIG_FILE (YAML with LMCache's keys) when set, else the LMCACHE_*
 * variables, over what cfg already holds. Unknown YAML keys are ignored, as LMCache does;
 * malformed values are errors naming the key. */
kvs_status kvs_config_from_env(kvs_config *cfg, kvs_error *err);
kvs_status kvs_config_from_yaml_file(kvs_config *cfg, const char *path, kvs_error *err);
/* Sets one key by its LMCache name ("max_local_cpu_size", "local_disk", ...) from text. */
kvs_status kvs_config_set(kvs_config *cfg, const char *key, const char *value, kvs_error *err);

/* The same LMCache sources, read with the same rules, for settings that are not the
 * library's: the engine's connector owns chunk_size, save_unfull_chunk and
 * save_decode_cache. Each key of keys found in LMCACHE_CONFIG_FILE (or, without one, in
 * LMCACHE_<KEY>) is handed to set; errors name the file and line or the variable. */
typedef kvs_status (*kvs_setting_fn)(void *target, const char *key, const char *value,
                                     kvs_error *err);
typedef struct kvs_settings {
    const char *const *keys; /* NULL-terminated LMCache key names (lower case) */
    kvs_setting_fn set;
    void *target;
} kvs_settings;
kvs_status kvs_settings_from_env(const kvs_settings *settings, kvs_error *err);
kvs_status kvs_settings_from_yaml_file(const kvs_settings *settings, const char *path,
                                       kvs_error *err);
/* The value parsers behind kvs_config_set, for a kvs_setting_fn: booleans as Python and
 * YAML write them (true/false/1/0, any case), unsigned integers within [min, max]. */
kvs_status kvs_setting_bool(const char *key, const char *value, bool *out, kvs_error *err);
kvs_status kvs_setting_uint(const char *key, const char *value, uint32_t min, uint32_t max,
                            uint32_t *out, kvs_error *err);

/* ---- The cache ---------------------------------------------------------------------- */

typedef struct kvs_cache kvs_cache;

/* Opens every tier the configuration enables. A tier that cannot open (directory not
 * writable, Redis unreachable at start) is an error: the caller decides whether to go on
 * without it by changing the configuration. */
kvs_status kvs_cache_open(const kvs_config *cfg, kvs_cache **out, kvs_error *err);
/* Waits for queued writes (at most the flush timeout), stops the I/O threads, frees all. */
void kvs_cache_close(kvs_cache *cache);
const kvs_config *kvs_cache_config(const kvs_cache *cache);

/* Waits until every queued put has been written or dropped, or timeout_ms passes
 * (KVS_ERR_TIMEOUT). A negative timeout waits forever. */
kvs_status kvs_cache_flush(kvs_cache *cache, int timeout_ms, kvs_error *err);

/* ---- Chunks: the unit every tier stores --------------------------------------------- */

/* A chunk object: header (key, parent, namespace, index, tokens, layout, checksums) and a
 * layer-major payload whose every K and V segment starts at a 4096-byte boundary.
 * Reference counted; immutable once put. */
typedef struct kvs_chunk kvs_chunk;

typedef struct kvs_chunk_info {
    kvs_key key;
    kvs_key parent;
    kvs_key ns;
    uint32_t chunk_index;
    uint32_t n_tokens;
    kvs_layout layout;
    uint64_t payload_size;
    uint64_t created_unix_ns;
    char writer_id[64];
} kvs_chunk_info;

/* Bytes of one K or V segment before and after padding, and of the whole payload. */
size_t kvs_segment_bytes(const kvs_layout *layout, uint32_t n_tokens);
size_t kvs_segment_stride(const kvs_layout *layout, uint32_t n_tokens);
size_t kvs_payload_bytes(const kvs_layout *layout, uint32_t n_tokens);

/* A new chunk with a zeroed payload, for the caller to fill before kvs_put.
 * tokens are the chunk's own tokens (n_tokens of them); key must be the chain key of them
 * under parent (checked). For chunk 0 the parent is the namespace id. */
kvs_status kvs_chunk_new(const kvs_key *ns, const kvs_key *parent, const kvs_key *key,
                         uint32_t chunk_index, const int32_t *tokens, uint32_t n_tokens,
                         const kvs_layout *layout, kvs_chunk **out, kvs_error *err);
kvs_chunk *kvs_chunk_ref(kvs_chunk *chunk);
void kvs_chunk_release(kvs_chunk *chunk);

const kvs_chunk_info *kvs_chunk_get_info(const kvs_chunk *chunk);
const int32_t *kvs_chunk_tokens(const kvs_chunk *chunk);
/* Segment of one layer: kv = 0 for K, 1 for V. [n_tokens][n_kv_heads][head_dim] elements. */
const void *kvs_chunk_segment(const kvs_chunk *chunk, uint32_t layer, int kv);
void *kvs_chunk_segment_mut(kvs_chunk *chunk, uint32_t layer, int kv);
const void *kvs_chunk_payload(const kvs_chunk *chunk);

/* ---- Asynchronous batches ----------------------------------------------------------- */

typedef struct kvs_batch kvs_batch;

/* Waits for the batch; KVS_ERR_TIMEOUT when timeout_ms passes first (negative: forever). */
kvs_status kvs_batch_wait(kvs_batch *batch, int timeout_ms);
bool kvs_batch_done(const kvs_batch *batch);
size_t kvs_batch_count(const kvs_batch *batch);
/* For a get batch: the number of leading chunks that loaded (a load stops at the first
 * chunk that is missing or fails verification). For a put batch: chunks written to at
 * least one tier. Valid once done. */
size_t kvs_batch_loaded(const kvs_batch *batch);
/* The i-th loaded chunk (i < kvs_batch_loaded), borrowed: take kvs_chunk_ref to keep it. */
kvs_chunk *kvs_batch_chunk(const kvs_batch *batch, size_t i);
/* The status of item i (KVS_OK, KVS_ERR_NOT_FOUND, KVS_ERR_CORRUPT, KVS_ERR_IO, ...). */
kvs_status kvs_batch_item_status(const kvs_batch *batch, size_t i);
/* The tier that served item i of a get batch, as an index into kvs_stats.tiers (so
 * kvs_cache_stats names it); -1 when the item did not load, or for a put batch. An item
 * that joined another batch's load in flight reports the tier of that load. Valid once
 * done. An engine times its loads per tier with it (its load-or-compute estimate). */
int kvs_batch_item_tier(const kvs_batch *batch, size_t i);
/* Frees the batch; waits for it first if it is still running. */
void kvs_batch_free(kvs_batch *batch);

/* A chunk asked for: its key, and the tokens the caller expects it to hold (checked
 * against the object's header; NULL skips that check). */
typedef struct kvs_chunk_request {
    kvs_key key;
    uint32_t chunk_index;
    const int32_t *tokens;
    uint32_t n_tokens;
} kvs_chunk_request;

/* How many leading chunks of keys[0..n) some tier holds (the longest cached prefix, in
 * chunks). Cheap: memory first, then the storage tiers with O(log n) metadata operations. */
kvs_status kvs_lookup(kvs_cache *cache, const kvs_key *ns, const kvs_key *keys, size_t n,
                      size_t *n_hit, kvs_error *err);

/* kvs_lookup, and for each hit chunk i < *n_hit, in tier_of_chunk[i] (room for n), the
 * index in kvs_stats.tiers of the fastest tier that holds it as far as a cheap look can
 * tell: the memory tier is asked about every chunk, and a chunk it lacks is credited to
 * the storage tier that answered for it. A get may still be served by a slower tier (the
 * memory tier evicted the chunk since): kvs_batch_item_tier says which one did. */
kvs_status kvs_lookup_tiers(kvs_cache *cache, const kvs_key *ns, const kvs_key *keys, size_t n,
                            uint8_t *tier_of_chunk, size_t *n_hit, kvs_error *err);

/* Starts loading chunks; each request is served from the fastest tier that has it, and
 * promoted to faster tiers. Concurrent gets of one key load it once. The request array and
 * tokens are copied. */
kvs_status kvs_get_async(kvs_cache *cache, const kvs_key *ns, const kvs_chunk_request *reqs,
                         size_t n, kvs_batch **out, kvs_error *err);

/* Stores chunks in every enabled tier: memory at once, the others from the I/O threads.
 * Takes over one reference to each chunk. Never blocks on I/O: a chunk that would push
 * the write queue over its byte budget is dropped and counted (its item status is
 * KVS_ERR_DROPPED). out may be NULL when the caller does not wait. */
kvs_status kvs_put_async(kvs_cache *cache, kvs_chunk *const *chunks, size_t n,
                         kvs_batch **out, kvs_error *err);

/* Removes a chunk from every tier. */
kvs_status kvs_remove(kvs_cache *cache, const kvs_key *ns, const kvs_key *key, kvs_error *err);

/* ---- GPU memory ----------------------------------------------------------------------- */

/* The library needs no GPU: an engine whose KV cache lives on a GPU lends it these
 * operations through kvs_config.gpu. With them, chunk payloads in host memory (the mem tier,
 * staging for the other tiers) are page-locked, and the gds tier (gds_path, with libcufile
 * found at run time by dlopen: $KVSPILL_CUFILE_LIB, else libcufile.so.0, else libcufile.so)
 * reads and writes payloads straight between the files and one registered GPU staging
 * buffer of cufile_buffer_size bytes. Without libcufile, or when the file system refuses
 * GPUDirect Storage, the gds tier uses the file tier's POSIX path and says why in its
 * kvs_tier_stats.io_path (docs/gds.md). Every function returns 0 on success; all must be
 * set. The operations must stay valid until the cache is closed and every chunk obtained
 * while it was open is released (page-locked buffers and staging slots go back through
 * them). */
typedef struct kvs_gpu_ops {
    void *user;
    /* Page-locked host memory (cudaHostAlloc); NULL on failure. */
    void *(*host_alloc)(void *user, size_t bytes);
    void (*host_free)(void *user, void *p);
    /* Device memory (cudaMalloc) for the cuFile staging buffer; NULL on failure. */
    void *(*device_alloc)(void *user, size_t bytes);
    void (*device_free)(void *user, void *p);
    /* Makes the engine's device current on the calling thread (an I/O thread). */
    int (*bind_thread)(void *user);
    /* Synchronous copies between device and host memory. */
    int (*copy_to_host)(void *user, void *dst, const void *src_device, size_t n);
    int (*copy_to_device)(void *user, void *dst_device, const void *src, size_t n);
    /* XXH3-64 (seed 0) of n bytes of device memory: how a payload read straight into GPU
     * memory is verified before it reaches the model. */
    int (*xxh3_64)(void *user, const void *src_device, size_t n, uint64_t *out);
} kvs_gpu_ops;

/* The library's own XXH3-64 (seed 0) of n bytes of device memory, computed on the calling
 * thread's current CUDA device: what an engine puts behind kvs_gpu_ops.xxh3_64 once it has
 * made its device current (the checksum is the object format's, so its kernel is the
 * library's). Blocks until the sum is known; safe from several threads at once.
 * KVS_ERR_UNSUPPORTED in a build without CUDA. */
kvs_status kvs_xxh3_64_device(const void *src_device, size_t n, uint64_t *out, kvs_error *err);

/* Whether the chunk's payload is in device memory (the gds tier's staging buffer): then
 * kvs_chunk_payload and kvs_chunk_segment return device pointers. A get from the gds tier
 * gives such chunks when it reads with cuFile; each holds a slot of the staging buffer
 * until released, so release them as soon as their KV is scattered. When the staging
 * buffer has no room, a get reads into host memory instead. */
bool kvs_chunk_on_device(const kvs_chunk *chunk);

/* kvs_chunk_new with the payload in the gds tier's GPU staging buffer, for the engine to fill
 * with a gather kernel before kvs_put_async (the gds tier then writes it with cuFileWrite;
 * host tiers get a host copy made by the library). Segment padding is zeroed; the segments
 * themselves are not. KVS_ERR_UNSUPPORTED when the cache has no active GPUDirect path (the
 * message says why), KVS_ERR_FULL when the staging buffer has no room now: the caller uses
 * kvs_chunk_new instead. */
kvs_status kvs_chunk_new_device(kvs_cache *cache, const kvs_key *ns, const kvs_key *parent,
                                const kvs_key *key, uint32_t chunk_index,
                                const int32_t *tokens, uint32_t n_tokens,
                                const kvs_layout *layout, kvs_chunk **out, kvs_error *err);

/* ---- Statistics ---------------------------------------------------------------------- */

#define KVS_MAX_TIERS 4

typedef struct kvs_tier_stats {
    char name[16];              /* "mem", "local_disk", "gds", "redis" */
    uint64_t hits, misses;
    uint64_t bytes_read, bytes_written;
    uint64_t puts, put_errors, get_errors;
    uint64_t corrupt;           /* objects that failed verification (and were removed) */
    uint64_t evictions;
    uint64_t used_bytes, capacity_bytes;
    uint64_t objects;           /* objects held, when the tier knows cheaply */
    uint64_t read_ns, write_ns; /* total time spent in reads and writes */
    uint64_t timeouts;          /* operations a remote tier gave up on after its timeout */
    uint64_t reconnects;        /* connections a remote tier re-established after a failure */
    uint64_t metadata_ops;      /* file system metadata calls (stat, open, rename, unlink...) */
    char last_error[KVS_ERROR_MSG_MAX]; /* the most recent error the tier hit, or "" */
    char io_path[256];          /* how the tier moves bytes: "io_uring+O_DIRECT",
                                   "pread+buffered", ..., "cufile (GPUDirect)", "cufile
                                   (compat mode)", or "posix (no GPUDirect: <reason>)";
                                   "" for mem and redis */
} kvs_tier_stats;

typedef struct kvs_stats {
    uint32_t n_tiers;
    kvs_tier_stats tiers[KVS_MAX_TIERS];
    uint64_t lookups, lookup_hit_chunks, lookup_miss_chunks;
    uint64_t puts, dropped_puts;
    uint64_t gets, single_flight_joins;
    uint64_t write_queue_bytes;
} kvs_stats;

void kvs_cache_stats(kvs_cache *cache, kvs_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* KVSPILL_H */
