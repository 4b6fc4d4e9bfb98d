/* Memory for a KV pool (every block's K and V rows), resident from the start (as an
 * accelerator's KV pool is). Left to fault in on first touch, the pool charged a page fault
 * per 4 KiB to whatever wrote a block first — usually a load from the offload cache, on the
 * critical path of a warm request: scattering 32 MiB of loaded KV into fresh blocks took
 * 17-53 ms against 2 ms into resident ones. Populating at creation moves that cost to
 * engine start (about 0.5 s per GiB on a 2-core VM). */
#ifndef KVSPILL_MODEL_KV_POOL_MEM_H
#define KVSPILL_MODEL_KV_POOL_MEM_H

#include <stddef.h>

#include "model/backend.h"

/* Zeroed host memory; NULL when it cannot be had. Sanitizer builds use calloc instead, so
 * that ASan sees overflows. */
void *kv_pool_alloc(size_t bytes);
/* bytes as given to kv_pool_alloc; NULL is fine. */
void kv_pool_free(void *p, size_t bytes);

/* A kv_cache's pool: backend b's memory (device memory on a GPU), or zeroed resident host
 * memory when b is NULL. */
void *kv_pool_alloc_in(backend *b, size_t bytes);
/* b and bytes as given to kv_pool_alloc_in; NULL p is fine. */
void kv_pool_free_in(backend *b, void *p, size_t bytes);

#endif
