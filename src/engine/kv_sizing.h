/* How big the paged KV cache is: --kv-cache-memory bytes, or on a GPU the share of device
 * memory --gpu-memory-utilization leaves once the model is loaded, as vLLM sizes it. */
#ifndef KVSPILL_ENGINE_KV_SIZING_H
#define KVSPILL_ENGINE_KV_SIZING_H

#include <stdint.h>

#include "engine/engine_error.h"

/* The instance may use utilization x total bytes of the device; what is in use already
 * (total - free: the weights, the backend's buffers, other processes) comes off it.
 * Fails, naming the figures, when less than min_bytes would be left. */
int kv_sizing_from_utilization(double utilization, uint64_t free_bytes, uint64_t total_bytes,
                               uint64_t min_bytes, uint64_t *kv_bytes,
                               engine_error *err) ENGINE_MUST_CHECK;

#endif
