/* The buffer pool (buffer_pool.h). Each buffer is preceded by one aligned block holding its
 * bookkeeping, so a release needs nothing but the pointer. Idle buffers form one list in
 * release order: a get takes the most recent buffer of its size class (warmest in cache),
 * the bound drops the least recent ones. Under AddressSanitizer idle buffers are poisoned,
 * so a use after release is still reported while the buffer sits in the pool. */
#include "cache/buffer_pool.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct kvs_pool_buf {
    size_t cap; /* usable bytes after the bookkeeping block */
    kvs_pool_buf *prev, *next;
};

_Static_assert(sizeof(kvs_pool_buf) <= KVS_BUFFER_POOL_ALIGN, "bookkeeping fits one block");

static uint8_t *data_of(kvs_pool_buf *b)
{
    return (uint8_t *)b + KVS_BUFFER_POOL_ALIGN;
}

static kvs_pool_buf *buf_of(uint8_t *data)
{
    return (kvs_pool_buf *)(void *)(data - KVS_BUFFER_POOL_ALIGN);
}

void kvs_buffer_pool_init(kvs_buffer_pool *pool, size_t max_bytes)
{
    pthread_mutex_init(&pool->lock, NULL);
    pool->max_bytes = max_bytes;
    pool->cached_bytes = 0;
    pool->cached = 0;
    pool->head = pool->tail = NULL;
}

static void unlink_buf(kvs_buffer_pool *pool, kvs_pool_buf *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        pool->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        pool->tail = b->prev;
    pool->cached_bytes -= b->cap;
    pool->cached--;
}

void kvs_buffer_pool_destroy(kvs_buffer_pool *pool)
{
    while (pool->head) {
        kvs_pool_buf *b = pool->head;
        unlink_buf(pool, b);
        free(b);
    }
    pthread_mutex_destroy(&pool->lock);
}

/* The capacity a request of size bytes gets; 0 when the size overflows. */
static size_t capacity_for(size_t size)
{
    size_t unit = size >= KVS_BUFFER_POOL_MIN ? KVS_BUFFER_POOL_CLASS : KVS_BUFFER_POOL_ALIGN;
    if (size == 0)
        return KVS_BUFFER_POOL_ALIGN;
    if (size > SIZE_MAX - unit - KVS_BUFFER_POOL_ALIGN)
        return 0;
    return (size + unit - 1) / unit * unit;
}

uint8_t *kvs_buffer_pool_get(kvs_buffer_pool *pool, size_t size)
{
    size_t cap = capacity_for(size);
    if (cap == 0)
        return NULL;
    kvs_pool_buf *b = NULL;
    if (cap >= KVS_BUFFER_POOL_MIN) {
        pthread_mutex_lock(&pool->lock);
        for (b = pool->head; b && b->cap != cap; b = b->next)
            ;
        if (b)
            unlink_buf(pool, b);
        pthread_mutex_unlock(&pool->lock);
    }
    if (b) {
        UNPOISON(data_of(b), cap);
        return data_of(b);
    }
    void *p = NULL;
    if (posix_memalign(&p, KVS_BUFFER_POOL_ALIGN, cap + KVS_BUFFER_POOL_ALIGN) != 0)
        return NULL;
    b = p;
    b->cap = cap;
    return data_of(b);
}

void kvs_buffer_pool_put(kvs_buffer_pool *pool, uint8_t *buf)
{
    if (!buf)
        return;
    kvs_pool_buf *b = buf_of(buf);
    if (b->cap < KVS_BUFFER_POOL_MIN || b->cap > pool->max_bytes) {
        free(b);
        return;
    }
    /* Poisoned before it is listed: once listed, another thread may take it. */
    POISON(buf, b->cap);
    kvs_pool_buf *drop = NULL;
    pthread_mutex_lock(&pool->lock);
    b->prev = NULL;
    b->next = pool->head;
    if (pool->head)
        pool->head->prev = b;
    else
        pool->tail = b;
    pool->head = b;
    pool->cached_bytes += b->cap;
    pool->cached++;
    while (pool->cached_bytes > pool->max_bytes) {
        kvs_pool_buf *old = pool->tail;
        unlink_buf(pool, old);
        old->next = drop;
        drop = old;
    }
    pthread_mutex_unlock(&pool->lock);
    while (drop) { /* freed outside the lock: munmap of big buffers is slow */
        kvs_pool_buf *next = drop->next;
        free(drop);
        drop = next;
    }
}

void kvs_buffer_pool_stats_get(kvs_buffer_pool *pool, kvs_buffer_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->cached_bytes = pool->cached_bytes;
    out->cached = pool->cached;
    pthread_mutex_unlock(&pool->lock);
}
