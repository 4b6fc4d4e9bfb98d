/* The buffer pool (buffer_pool.h). Each buffer is preceded by one aligned block holding its
 * bookkeeping, so a release needs nothing but the pointer. Idle buffers form one list in
 * release order: a get takes the most recent buffer of its size class (warmest in cache),
 * the bound drops the least recent ones. Under AddressSanitizer idle buffers are poisoned,
 * so a use after release is still reported while the buffer sits in the pool. */
#include "cache/buffer_pool.h"

#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct kvs_pool_buf {
    size_t cap;                /* usable bytes after the bookkeeping block */
    void *raw;                 /* what the allocator returned */
    size_t mapped;             /* bytes of raw's own mapping, 0 when not mapped here */
    const kvs_gpu_ops *pinned; /* the allocator of page-locked memory, NULL for the heap */
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

static void free_buf(kvs_pool_buf *b)
{
    if (b->pinned)
        b->pinned->host_free(b->pinned->user, b->raw);
    else if (b->mapped)
        munmap(b->raw, b->mapped);
    else
        free(b->raw);
}

/* Host buffers are mappings of their own, not heap blocks: chunks live from a store's
 * gather to its write (or drop) while requests allocate and free around them, and as heap
 * blocks they left holes that kept the soak's RSS growing (bench/RESULTS.md, "RSS"); glibc
 * mmaps big blocks itself only until a free raises its threshold to their size. Under
 * AddressSanitizer they stay heap blocks, so that LeakSanitizer still sees a lost one. */
static void *map_buf(size_t bytes, size_t *mapped)
{
#if defined(__SANITIZE_ADDRESS__)
    void *raw = NULL;
    *mapped = 0;
    return posix_memalign(&raw, KVS_BUFFER_POOL_ALIGN, bytes) == 0 ? raw : NULL;
#else
    void *raw = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *mapped = raw == MAP_FAILED ? 0 : bytes;
    return raw == MAP_FAILED ? NULL : raw;
#endif
}

/* Unlinks every idle buffer; the caller frees the returned list outside the lock. */
static kvs_pool_buf *take_all(kvs_buffer_pool *pool)
{
    kvs_pool_buf *list = NULL;
    while (pool->head) {
        kvs_pool_buf *b = pool->head;
        unlink_buf(pool, b);
        b->next = list;
        list = b;
    }
    return list;
}

static void free_list(kvs_pool_buf *list)
{
    while (list) { /* freed outside the lock: munmap of big buffers is slow */
        kvs_pool_buf *next = list->next;
        free_buf(list);
        list = next;
    }
}

void kvs_buffer_pool_destroy(kvs_buffer_pool *pool)
{
    free_list(take_all(pool));
    pthread_mutex_destroy(&pool->lock);
}

void kvs_buffer_pool_trim(kvs_buffer_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    kvs_pool_buf *list = take_all(pool);
    pthread_mutex_unlock(&pool->lock);
    free_list(list);
}

void kvs_buffer_pool_trim_pinned(kvs_buffer_pool *pool, const kvs_gpu_ops *pinned)
{
    kvs_pool_buf *list = NULL;
    pthread_mutex_lock(&pool->lock);
    for (kvs_pool_buf *b = pool->head, *next; b; b = next) {
        next = b->next;
        if (b->pinned != pinned)
            continue;
        unlink_buf(pool, b);
        b->next = list;
        list = b;
    }
    pthread_mutex_unlock(&pool->lock);
    free_list(list);
}

const kvs_gpu_ops *kvs_buffer_pool_pinned_of(uint8_t *buf)
{
    return buf ? buf_of(buf)->pinned : NULL;
}

void kvs_buffer_pool_free(uint8_t *buf)
{
    if (buf)
        free_buf(buf_of(buf));
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

/* A new buffer with its bookkeeping block: page-locked memory from pinned, over-allocated
 * by a block so that it can be aligned whatever alignment host_alloc gives, else the heap. */
static kvs_pool_buf *new_buf(size_t cap, const kvs_gpu_ops *pinned)
{
    void *raw = pinned ? pinned->host_alloc(pinned->user, cap + 2 * KVS_BUFFER_POOL_ALIGN) : NULL;
    size_t mapped = 0;
    if (!raw) {
        pinned = NULL;
        if (!(raw = map_buf(cap + KVS_BUFFER_POOL_ALIGN, &mapped)))
            return NULL;
    }
    uintptr_t at = ((uintptr_t)raw + KVS_BUFFER_POOL_ALIGN - 1) / KVS_BUFFER_POOL_ALIGN *
                   KVS_BUFFER_POOL_ALIGN;
    kvs_pool_buf *b = (kvs_pool_buf *)at;
    b->cap = cap;
    b->raw = raw;
    b->mapped = mapped;
    b->pinned = pinned;
    return b;
}

uint8_t *kvs_buffer_pool_get_pinned(kvs_buffer_pool *pool, size_t size,
                                    const kvs_gpu_ops *pinned)
{
    size_t cap = capacity_for(size);
    if (cap == 0)
        return NULL;
    kvs_pool_buf *b = NULL;
    if (cap >= KVS_BUFFER_POOL_MIN) {
        pthread_mutex_lock(&pool->lock);
        for (b = pool->head; b && (b->cap != cap || b->pinned != pinned); b = b->next)
            ;
        if (b)
            unlink_buf(pool, b);
        pthread_mutex_unlock(&pool->lock);
    }
    if (b)
        UNPOISON(data_of(b), cap);
    else if (!(b = new_buf(cap, pinned)))
        return NULL;
    /* Beyond the bytes asked for is off limits, as it would be in a buffer of its own. */
    if (size > 0)
        POISON(data_of(b) + size, cap - size);
    return data_of(b);
}

uint8_t *kvs_buffer_pool_get(kvs_buffer_pool *pool, size_t size)
{
    return kvs_buffer_pool_get_pinned(pool, size, NULL);
}

void kvs_buffer_pool_put(kvs_buffer_pool *pool, uint8_t *buf)
{
    if (!buf)
        return;
    kvs_pool_buf *b = buf_of(buf);
    if (b->cap < KVS_BUFFER_POOL_MIN || b->cap > pool->max_bytes) {
        free_buf(b);
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
    free_list(drop);
}

void kvs_buffer_pool_stats_get(kvs_buffer_pool *pool, kvs_buffer_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->cached_bytes = pool->cached_bytes;
    out->cached = pool->cached;
    pthread_mutex_unlock(&pool->lock);
}
