/* /metrics: the engine's and the offload library's counters in the Prometheus text
 * exposition format 0.0.4, names prefixed kvspill_ and modelled on vLLM's. */
#ifndef KVSPILL_SERVER_METRICS_H
#define KVSPILL_SERVER_METRICS_H

#include "engine/engine.h"
#include "model/tokenizer.h"

/* Appends the exposition text to out. -1 when out of memory. */
int metrics_render(const engine_stats *st, const char *model_name, tok_bytes *out);

#endif
