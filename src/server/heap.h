/* The process's malloc heap as the allocator sees it, and giving its free pages back.
 *
 * Under the soak's load (stores queued from the engine thread, freed on I/O threads, beside
 * short-lived request buffers on the HTTP threads) glibc's arenas keep free holes between
 * live blocks that its free() never returns (it trims only an arena's top), so RSS grew
 * 1-2 MB/min while the bytes in use stayed bounded (bench/RESULTS.md, "RSS"). malloc_trim
 * returns the free pages inside every arena too. */
#ifndef KVSPILL_SERVER_HEAP_H
#define KVSPILL_SERVER_HEAP_H

#include <stddef.h>

typedef struct heap_usage {
    size_t in_use; /* allocated and not freed, mmapped blocks included */
    size_t free;   /* free inside the arenas, not returned to the system */
} heap_usage;

heap_usage heap_usage_now(void);

/* Returns the free pages of every arena to the system when they hold more than
 * threshold bytes; the bytes it found free (0 when it did nothing). Cheap when idle: one
 * mallinfo2 walk; the trim itself takes each arena's lock in turn. */
size_t heap_trim(size_t threshold);

#endif
