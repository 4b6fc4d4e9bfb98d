/* glibc's allocator tuned for the long-running commands (serve, router). */
#ifndef KVSPILL_CLI_CLI_MALLOC_H
#define KVSPILL_CLI_CLI_MALLOC_H

/* At most two malloc arenas, unless MALLOC_ARENA_MAX says otherwise. glibc gives up to 8
 * per core, one per thread that allocates at once; each keeps the memory freed into it, so
 * with the HTTP, I/O and engine threads passing chunk buffers between them the resident
 * size crept up 1.5-2.3 MB/min in the 10-minute soak (beyond the write queue's bytes);
 * with two arenas, 0.2-0.5 MB/min (bench/RESULTS.md, "RSS"). */
void cli_limit_malloc_arenas(void);

#endif
