/* A bounded pool of KVS_BUFFER_POOL_ALIGN-aligned buffers for whole objects.
 *
 * Each buffer is a mapping of its own (buffer_pool.c says why not a heap block): every
 * page faults on first touch and munmap gives them back on free (2.2 ms per 5.8 MB object,
 * measured). The pool keeps released buffers, grouped by size rounded up to
 * KVS_BUFFER_POOL_CLASS, up to a total of max_bytes, and hands them out again already
 * faulted in. Buffers smaller than KVS_BUFFER_POOL_MIN are not kept. Thread-safe.
 *
 * A buffer comes from the heap or, when asked with GPU operations, from their page-locked
 * host memory (cudaHostAlloc), so that copies between it and a GPU can be asynchronous;
 * each buffer remembers where it came from and goes back there. */
#ifndef KVSPILL_CACHE_BUFFER_POOL_H
#define KVSPILL_CACHE_BUFFER_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kvspill.h"

#define KVS_BUFFER_POOL_ALIGN 4096u
#define KVS_BUFFER_POOL_CLASS (64u * 1024u)
#define KVS_BUFFER_POOL_MIN (256u * 1024u)

typedef struct kvs_pool_buf kvs_pool_buf;

typedef struct kvs_buffer_pool {
    pthread_mutex_t lock;
    size_t max_bytes;    /* bound on the bytes of cached (idle) buffers */
    size_t cached_bytes; /* bytes of the buffers now idle in the pool */
    size_t cached;       /* how many buffers are idle in the pool */
    kvs_pool_buf *head;  /* idle buffers, most recently released first */
    kvs_pool_buf *tail;
} kvs_buffer_pool;

typedef struct kvs_buffer_pool_stats {
    size_t cached_bytes, cached;
} kvs_buffer_pool_stats;

/* For a pool with static storage duration (never destroyed). */
#define KVS_BUFFER_POOL_INITIALIZER(max) {PTHREAD_MUTEX_INITIALIZER, (max), 0, 0, NULL, NULL}

void kvs_buffer_pool_init(kvs_buffer_pool *pool, size_t max_bytes);
/* Frees every idle buffer; buffers still out must not be returned afterwards. */
void kvs_buffer_pool_destroy(kvs_buffer_pool *pool);

/* An aligned buffer of at least size bytes (size 0 counts as one block); NULL when out of
 * memory. Its contents are undefined. */
uint8_t *kvs_buffer_pool_get(kvs_buffer_pool *pool, size_t size);
/* The same in page-locked memory from pinned->host_alloc (NULL: the heap). When that
 * memory runs out the buffer comes from the heap: slower copies, same bytes. */
uint8_t *kvs_buffer_pool_get_pinned(kvs_buffer_pool *pool, size_t size,
                                    const kvs_gpu_ops *pinned);
/* Returns a buffer from kvs_buffer_pool_get of the same pool; NULL is ignored. When keeping
 * it would pass max_bytes, the least recently released buffers are freed first. */
void kvs_buffer_pool_put(kvs_buffer_pool *pool, uint8_t *buf);
/* Frees every idle buffer (buffers still out are unaffected). */
void kvs_buffer_pool_trim(kvs_buffer_pool *pool);
/* Frees the idle buffers that came from pinned's page-locked memory. */
void kvs_buffer_pool_trim_pinned(kvs_buffer_pool *pool, const kvs_gpu_ops *pinned);
/* The GPU operations a buffer from kvs_buffer_pool_get_pinned came from (NULL: the heap). */
const kvs_gpu_ops *kvs_buffer_pool_pinned_of(uint8_t *buf);
/* Gives a buffer back to its allocator at once instead of keeping it; NULL is ignored. */
void kvs_buffer_pool_free(uint8_t *buf);

void kvs_buffer_pool_stats_get(kvs_buffer_pool *pool, kvs_buffer_pool_stats *out);

#endif
