/* Latency histograms of engine_stats (Prometheus-style cumulative-at-read buckets). */
#ifndef KVSPILL_ENGINE_HISTOGRAM_H
#define KVSPILL_ENGINE_HISTOGRAM_H

#include "engine/engine.h"

/* Bounds from `first` seconds, each `factor` times the previous, ENGINE_HIST_BUCKETS of them. */
void histogram_init(engine_histogram *h, double first, double factor);
void histogram_observe(engine_histogram *h, double seconds);

#endif
