/* Baselines of `kvspill bench ttft`, measured in the same run: how fast the bytes a warm
 * request loads can be read with no cache library in the way. */
#ifndef KVSPILL_TOOLS_BENCH_TTFT_RAW_H
#define KVSPILL_TOOLS_BENCH_TTFT_RAW_H

#include <stdint.h>

/* GB/s of reading every object file under dir once, O_DIRECT where the file system allows
 * it (as the file tier reads), into one reused aligned buffer. *bytes: what was read.
 * Returns 0 when nothing could be read. */
double ttft_file_read_gbs(const char *dir, uint64_t *bytes);

/* GB/s of copying `bytes` from one buffer to another (the mem tier's floor), best of 3. */
double ttft_mem_copy_gbs(uint64_t bytes);

#endif
