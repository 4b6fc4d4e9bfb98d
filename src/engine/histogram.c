#include "engine/histogram.h"

#include <string.h>

void histogram_init(engine_histogram *h, double first, double factor)
{
    memset(h, 0, sizeof *h);
    double b = first;
    for (int i = 0; i < ENGINE_HIST_BUCKETS; i++, b *= factor)
        h->bounds[i] = b;
}

void histogram_observe(engine_histogram *h, double seconds)
{
    int i = 0;
    while (i < ENGINE_HIST_BUCKETS && h->bounds[i] > 0 && seconds > h->bounds[i])
        i++;
    if (i < ENGINE_HIST_BUCKETS && h->bounds[i] <= 0)
        i = ENGINE_HIST_BUCKETS;
    h->counts[i]++;
    h->sum += seconds;
    h->count++;
}
