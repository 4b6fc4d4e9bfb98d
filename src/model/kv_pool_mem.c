#include "model/kv_pool_mem.h"

#include <stdlib.h>
#include <sys/mman.h>

void *kv_pool_alloc(size_t bytes)
{
#ifdef KVSPILL_SANITIZE
    return calloc(1, bytes ? bytes : 1);
#else
    void *m = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return m == MAP_FAILED ? NULL : m;
#endif
}

void kv_pool_free(void *p, size_t bytes)
{
#ifdef KVSPILL_SANITIZE
    (void)bytes;
    free(p);
#else
    if (p)
        munmap(p, bytes ? bytes : 1);
#endif
}

void *kv_pool_alloc_in(backend *b, size_t bytes)
{
    return b ? b->ops->kv_alloc(b, bytes) : kv_pool_alloc(bytes);
}

void kv_pool_free_in(backend *b, void *p, size_t bytes)
{
    if (!p)
        return;
    if (b)
        b->ops->kv_free(b, p, bytes);
    else
        kv_pool_free(p, bytes);
}
