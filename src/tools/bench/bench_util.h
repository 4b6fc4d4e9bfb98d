/* What the benchmark drivers share: the clock they time with, the median they report, and
 * the parsing of a --lengths list. */
#ifndef KVSPILL_TOOLS_BENCH_BENCH_UTIL_H
#define KVSPILL_TOOLS_BENCH_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Seconds on the monotonic clock. */
double bench_now_s(void);
/* The median of v[0..n) (n > 0); sorts v. */
double bench_median(double *v, size_t n);
/* A comma-separated list of integers in [min, max], at most max_n of them, into out;
 * -1 when malformed, out of range, too long or empty. */
int bench_parse_lengths(const char *s, uint32_t min, uint32_t max, uint32_t *out, int max_n,
                        int *n);

#endif
