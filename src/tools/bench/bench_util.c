#include "tools/bench/bench_util.h"

#include <stdlib.h>
#include <time.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

int bench_parse_lengths(const char *s, uint32_t min, uint32_t max, uint32_t *out, int max_n,
                        int *n)
{
    *n = 0;
    for (const char *q = s; *q;) {
        char *end;
        unsigned long v = strtoul(q, &end, 10);
        if (end == q || v < min || v > max || *n == max_n || (*end && *end != ','))
            return -1;
        out[(*n)++] = (uint32_t)v;
        q = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}
